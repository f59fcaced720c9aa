// Schedulers against wan21.md §4 vectors, the numpy reference and diffusers
// (tests/data/scheduler_vectors.json from tools/reference/scheduler_vectors.py), plus the solver's
// structural properties: affine updates, x0 prediction at the last step, ordered steps.
#include <gtest/gtest.h>

#include <cstring>

#include "io/json_file.h"
#include "schedulers/flow_match_euler_scheduler.h"
#include "schedulers/flow_unipc_scheduler.h"
#include "schedulers/make_scheduler.h"
#include "schedulers/unipc_multistep_scheduler.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

const nlohmann::json& vectors() {
  static const JsonFile file =
      JsonFile::load(testing::source_path("tests/data/scheduler_vectors.json"));
  return file.json();
}

// wan21.md §4.2 scheduler_config.json values.
nlohmann::json wan_config_json() {
  return {{"_class_name", "UniPCMultistepScheduler"},
          {"num_train_timesteps", 1000},
          {"prediction_type", "flow_prediction"},
          {"use_flow_sigmas", true},
          {"flow_shift", 3.0},
          {"solver_order", 2},
          {"solver_type", "bh2"},
          {"predict_x0", true},
          {"lower_order_final", true},
          {"disable_corrector", nlohmann::json::array()},
          {"final_sigmas_type", "zero"},
          {"timestep_spacing", "linspace"},
          {"thresholding", false},
          {"use_dynamic_shifting", false},
          {"beta_schedule", "linear"},
          {"solver_p", nullptr}};
}

JsonFile wan_config(nlohmann::json json = wan_config_json()) {
  return JsonFile(std::move(json), "scheduler/scheduler_config.json");
}

std::unique_ptr<Scheduler> make(const std::string& name, double shift) {
  const JsonFile cfg = wan_config();
  return make_scheduler(name, shift, &cfg);
}

std::vector<int> as_ints(const std::vector<double>& v) {
  return std::vector<int>(v.begin(), v.end());
}

TEST(UniPCMultistepScheduler, TimestepsMatchWan21VectorsForShift3And5) {
  const std::vector<int> shift3 = {999, 993, 986, 979, 971, 964, 956, 948, 940, 931, 923, 914, 904,
                                   895, 885, 875, 864, 853, 842, 830, 818, 805, 792, 779, 765, 750,
                                   735, 719, 702, 685, 667, 648, 628, 607, 586, 563, 539, 514, 487,
                                   459, 429, 398, 365, 329, 292, 251, 208, 162, 113, 60};
  const std::vector<int> shift5 = {999, 995, 991, 987, 982, 978, 973, 968, 963, 957, 952, 946, 940,
                                   934, 927, 921, 914, 906, 899, 890, 882, 873, 864, 854, 844, 833,
                                   822, 810, 797, 783, 769, 754, 738, 720, 702, 682, 661, 638, 613,
                                   586, 556, 524, 489, 450, 407, 359, 305, 244, 175, 96};
  auto s3 = UniPCMultistepScheduler::from_config(wan_config());
  s3.set_timesteps(50);
  EXPECT_EQ(as_ints(s3.timesteps()), shift3);
  auto s5 = UniPCMultistepScheduler::from_config(wan_config(), 5.0);
  s5.set_timesteps(50);
  EXPECT_EQ(as_ints(s5.timesteps()), shift5);

  // "The sigmas start 0.999999, 0.99325, 0.986315, … and end …, 0.162959, 0.113576, 0.060405, 0."
  const auto& sg = s3.sigmas();
  ASSERT_EQ(sg.size(), 51u);
  const double expected_head[] = {0.999999, 0.99325, 0.986315};
  const double expected_tail[] = {0.162959, 0.113576, 0.060405, 0.0};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(sg[size_t(i)], expected_head[i], 5e-6) << "sigma " << i;
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(sg[47 + size_t(i)], expected_tail[i], 5e-7) << 47 + i;
}

// Every schedule in the JSON, from one source ("numpy" or "diffusers"), must match exactly: the
// float32 sigmas bit for bit, the timesteps as the same numbers.
void expect_schedules_match(const std::string& source) {
  ASSERT_TRUE(vectors().contains(source)) << "no '" << source << "' vectors";
  const auto& schedules = vectors().at(source).at("schedules");
  ASSERT_GT(schedules.size(), 0u);
  for (const auto& sc : schedules) {
    const std::string name = sc.at("scheduler");
    const double shift = sc.at("shift");
    const int steps = sc.at("steps");
    const std::string what = str_cat(source, " ", name, " shift ", shift, " steps ", steps);
    auto s = make(name, shift);
    s->set_timesteps(steps);
    EXPECT_EQ(s->timesteps(), sc.at("timesteps").get<std::vector<double>>()) << what;
    EXPECT_EQ(s->sigmas(), sc.at("sigmas").get<std::vector<double>>()) << what;
  }
}

TEST(Schedulers, SchedulesMatchNumpyReferenceExactly) { expect_schedules_match("numpy"); }

TEST(Schedulers, SchedulesMatchDiffusersExactly) { expect_schedules_match("diffusers"); }

TEST(FlowUniPCScheduler, ShiftsTwiceSoItsScheduleDiffersFromDiffusers) {
  // fastvideo.md §1.3 item 4: σ_max = shift(0.999) from the training table, then shifted again.
  FlowUniPCScheduler fv(3.0);
  EXPECT_NEAR(fv.sigma_max(), 2.997 / 2.998, 1e-7);
  fv.set_timesteps(50);
  auto dif = make("checkpoint", 3.0);
  dif->set_timesteps(50);
  EXPECT_EQ(fv.timesteps().front(), 999.0);
  EXPECT_LT(fv.sigmas().front(), 1.0);
  EXPECT_EQ(fv.timesteps().back(), 57.0);  // diffusers: 60
  EXPECT_EQ(dif->timesteps().back(), 60.0);
  EXPECT_NEAR(fv.sigmas()[0], shift_sigma(2.997 / 2.998, 3.0), 1e-7);
}

TEST(UniPCSolver, CoefficientsMatchWan21Table) {
  // wan21.md §4.2 coefficient table (s = 3, N = 50), 6 decimals.
  auto s = UniPCMultistepScheduler::from_config(wan_config());
  s.set_timesteps(50);
  const UniPCSolver& solver = s.solver();
  const double tol = 1.5e-6;

  const UniPCCoefficients c0 = solver.coefficients(0);
  EXPECT_EQ(c0.corrector_order, 0);
  EXPECT_EQ(c0.predictor_order, 1);
  EXPECT_NEAR(c0.pred_base, 0.993251, tol);
  EXPECT_NEAR(c0.pred_m[0], 0.006749, tol);
  EXPECT_EQ(c0.pred_m[1], 0.0);

  const UniPCCoefficients c1 = solver.coefficients(1);
  EXPECT_EQ(c1.corrector_order, 1);
  EXPECT_NEAR(c1.corr_base, 0.993251, tol);
  EXPECT_NEAR(c1.corr_m[1], 0.003374, tol);  // m0
  EXPECT_NEAR(c1.corr_m[0], 0.003374, tol);  // m1
  EXPECT_EQ(c1.predictor_order, 2);
  EXPECT_NEAR(c1.pred_base, 0.993018, tol);
  EXPECT_NEAR(c1.pred_m[0], 0.007265, tol);
  EXPECT_NEAR(c1.pred_m[1], -0.000283, tol);

  const UniPCCoefficients c2 = solver.coefficients(2);
  EXPECT_EQ(c2.corrector_order, 2);
  EXPECT_NEAR(c2.corr_base, 0.993018, tol);
  EXPECT_NEAR(c2.corr_m[1], 0.003173, tol);     // m1
  EXPECT_NEAR(c2.corr_m[2], -0.0000070, 1e-7);  // m0
  EXPECT_NEAR(c2.corr_m[0], 0.003816, tol);     // m2

  const UniPCCoefficients c49 = solver.coefficients(49);
  EXPECT_EQ(c49.corrector_order, 2);
  EXPECT_NEAR(c49.corr_base, 0.531851, tol);
  EXPECT_NEAR(c49.corr_m[1], 0.334997, tol);   // m48
  EXPECT_NEAR(c49.corr_m[2], -0.079432, tol);  // m47
  EXPECT_NEAR(c49.corr_m[0], 0.212584, tol);   // m49
  EXPECT_EQ(c49.predictor_order, 1);
  EXPECT_EQ(c49.pred_base, 0.0);
  EXPECT_EQ(c49.pred_m[0], 1.0);
  EXPECT_EQ(c49.pred_m[1], 0.0);
}

TEST(UniPCSolver, EveryUpdateIsAffine) {
  for (const std::string name : {"flow_unipc", "checkpoint"}) {
    for (double shift : {1.0, 3.0, 5.0, 8.0, 12.0}) {
      for (int n : {1, 2, 3, 7, 50}) {
        auto s = make(name, shift);
        s->set_timesteps(n);
        const UniPCSolver& solver = name == "flow_unipc"
                                        ? dynamic_cast<FlowUniPCScheduler&>(*s).solver()
                                        : dynamic_cast<UniPCMultistepScheduler&>(*s).solver();
        for (int k = 0; k < n; ++k) {
          const UniPCCoefficients c = solver.coefficients(k);
          const std::string what = str_cat(name, " shift ", shift, " N ", n, " step ", k);
          if (c.corrector_order > 0) {
            EXPECT_NEAR(c.corr_base + c.corr_m[0] + c.corr_m[1] + c.corr_m[2], 1.0, 1e-12) << what;
          }
          EXPECT_NEAR(c.pred_base + c.pred_m[0] + c.pred_m[1], 1.0, 1e-12) << what;
        }
      }
    }
  }
}

TEST(UniPCSolver, LastStepReturnsTheX0PredictionExactly) {
  for (const std::string name : {"flow_unipc", "checkpoint"}) {
    auto s = make(name, 3.0);
    const int n = 6;
    s->set_timesteps(n);
    Tensor x = randn({2, 16, 3, 4, 5});
    Tensor v;
    for (int k = 0; k < n; ++k) {
      v = randn(x.shape());
      Tensor next = s->step(v, k, x);
      if (k + 1 < n)
        x = next;
      else {
        const double sigma = s->sigmas()[size_t(k)];
        auto px = x.f32(), pv = v.f32(), pn = next.f32();
        for (size_t i = 0; i < pn.size(); ++i) {
          const float m = float(double(px[i]) - sigma * double(pv[i]));
          ASSERT_EQ(std::memcmp(&pn[i], &m, sizeof m), 0)
              << name << " element " << i << ": " << pn[i] << " vs m = " << m;
        }
      }
    }
  }
}

// The C++ rollout on the JSON's inputs against the stored trajectory, step by step.
void expect_rollouts_match(const std::string& source, double bound) {
  ASSERT_TRUE(vectors().contains(source)) << "no '" << source << "' vectors";
  const auto& inputs = vectors().at("rollout_inputs");
  const auto sample = inputs.at("sample").get<std::vector<float>>();
  const auto outputs = inputs.at("model_outputs").get<std::vector<std::vector<float>>>();
  const int64_t numel = int64_t(sample.size());
  const auto& rollouts = vectors().at(source).at("rollouts");
  ASSERT_GT(rollouts.size(), 0u);
  for (const auto& r : rollouts) {
    const std::string name = r.at("scheduler");
    const double shift = r.at("shift");
    const int steps = r.at("steps");
    auto s = make(name, shift);
    s->set_timesteps(steps);
    Tensor x = Tensor::from_vector(sample, {1, numel});
    const auto expected = r.at("outputs").get<std::vector<std::vector<float>>>();
    for (int k = 0; k < steps; ++k) {
      x = s->step(Tensor::from_vector(outputs[size_t(k)], {1, numel}), k, x);
      const Tensor want = Tensor::from_vector(expected[size_t(k)], {1, numel});
      EXPECT_LT(rel_l2(x, want), bound)
          << source << " " << name << " shift " << shift << " step " << k;
    }
  }
}

TEST(Schedulers, RolloutsMatchNumpyReference) { expect_rollouts_match("numpy", 1e-6); }

TEST(Schedulers, RolloutsMatchDiffusers) { expect_rollouts_match("diffusers", 1e-6); }

TEST(UniPCSolver, StepZeroRestartsAndStepsMustComeInOrder) {
  auto s = make("flow_unipc", 5.0);
  s->set_timesteps(4);
  Tensor x0 = randn({3, 7});
  std::vector<Tensor> vs;
  for (int k = 0; k < 4; ++k) vs.push_back(randn({3, 7}));
  auto rollout = [&] {
    Tensor x = x0;
    for (int k = 0; k < 4; ++k) x = s->step(vs[size_t(k)], k, x);
    return x;
  };
  Tensor a = rollout();
  Tensor b = rollout();
  EXPECT_EQ(rel_l2(a, b), 0.0);
  s->step(vs[0], 0, x0);
  EXPECT_THROW(s->step(vs[2], 2, x0), Error);
}

// A flow_shift so small that the float32 noise levels collapse is refused naming it, for each
// scheduler (QA fuzzing: 1e-30 ran to "denoising step 1 produced NaN"); 1e-12 still works.
TEST(Schedulers, AFlowShiftThatCollapsesTheNoiseLevelsIsNamed) {
  for (const char* name : {"flow_unipc", "euler", "checkpoint"}) {
    auto ok = make(name, 1e-12);
    EXPECT_NO_THROW(ok->set_timesteps(50)) << name;
    auto s = make(name, 1e-30);
    const std::string e = testing::error_of([&] { s->set_timesteps(50); });
    EXPECT_TRUE(testing::contains(e, "flow_shift=1e-30 leaves") &&
                testing::contains(e, "without distinct noise levels"))
        << name << ": " << e;
  }
}

TEST(UniPCSolver, Bf16ModelOutputIsReadAsItsF32Value) {
  auto s = make("flow_unipc", 3.0);
  auto t = make("flow_unipc", 3.0);
  s->set_timesteps(3);
  t->set_timesteps(3);
  Tensor x = randn({4, 9});
  for (int k = 0; k < 3; ++k) {
    Tensor v = randn({4, 9}).to(DType::BF16);
    Tensor a = s->step(v, k, x);
    Tensor b = t->step(v.to(DType::F32), k, x);
    ASSERT_EQ(a.dtype(), DType::F32);
    EXPECT_EQ(rel_l2(a, b), 0.0);
    x = a;
  }
}

TEST(FlowMatchEulerScheduler, StepIsSampleplusSigmaDifferenceTimesVelocity) {
  FlowMatchEulerScheduler s(3.0);
  s.set_timesteps(50);
  EXPECT_EQ(s.timesteps().front(), 1000.0);
  EXPECT_NEAR(s.timesteps()[1], 993.12, 5e-3);  // wan21.md §4.3
  EXPECT_NEAR(s.timesteps()[48], 66.9, 5e-2);
  EXPECT_NEAR(s.timesteps()[49], 8.93, 5e-3);
  Tensor x = randn({5, 6}), v = randn({5, 6});
  Tensor y = s.step(v, 10, x);
  const double dt = s.sigmas()[11] - s.sigmas()[10];
  auto px = x.f32(), pv = v.f32(), py = y.f32();
  for (size_t i = 0; i < py.size(); ++i) EXPECT_FLOAT_EQ(py[i], float(px[i] + dt * pv[i]));
}

// A bad value for `key` must produce an error naming the key and the value.
void expect_config_error(const std::string& key, const nlohmann::json& value,
                         const std::string& value_text) {
  nlohmann::json j = wan_config_json();
  if (value.is_discarded()) {
    j.erase(key);
  } else {
    j[key] = value;
  }
  try {
    UniPCMultistepScheduler::from_config(wan_config(j));
    ADD_FAILURE() << key << " = " << value_text << " was accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    EXPECT_NE(msg.find(value_text), std::string::npos) << msg;
    EXPECT_NE(msg.find("scheduler_config.json"), std::string::npos) << msg;
  }
}

TEST(UniPCMultistepScheduler, UnsupportedConfigValuesNameKeyAndValue) {
  expect_config_error("use_flow_sigmas", false, "false");
  expect_config_error("prediction_type", "epsilon", "epsilon");
  expect_config_error("solver_type", "midpoint", "midpoint");
  expect_config_error("thresholding", true, "true");
  expect_config_error("predict_x0", false, "false");
  expect_config_error("solver_order", 3, "3");
  expect_config_error("final_sigmas_type", "sigma_min", "sigma_min");
  expect_config_error("lower_order_final", false, "false");
  expect_config_error("use_dynamic_shifting", true, "true");
  expect_config_error("use_karras_sigmas", true, "true");
  expect_config_error("flow_shift", -1.0, "-1");
  expect_config_error("use_flow_sigmas", nlohmann::json(nlohmann::json::value_t::discarded),
                      "missing");
}

TEST(UniPCMultistepScheduler, FlowShiftArgumentOverridesTheJson) {
  auto from_json = UniPCMultistepScheduler::from_config(wan_config());
  EXPECT_EQ(from_json.config().flow_shift, 3.0);
  auto overridden = UniPCMultistepScheduler::from_config(wan_config(), 8.0);
  EXPECT_EQ(overridden.config().flow_shift, 8.0);
  overridden.set_timesteps(20);
  auto direct = make("checkpoint", 8.0);
  direct->set_timesteps(20);
  EXPECT_EQ(overridden.timesteps(), direct->timesteps());
  // The file's own value is still checked when the argument replaces it (audit: -3, 0 and "3"
  // passed unseen).
  for (const nlohmann::json& bad : {nlohmann::json(-3.0), nlohmann::json(0), nlohmann::json("3")}) {
    nlohmann::json j = wan_config_json();
    j["flow_shift"] = bad;
    const std::string e =
        testing::error_of([&] { UniPCMultistepScheduler::from_config(wan_config(j), 8.0); });
    EXPECT_NE(e.find("flow_shift"), std::string::npos) << bad.dump() << ": " << e;
  }
}

TEST(UniPCMultistepScheduler, Bh1AndDisabledCorrectorAreHonoured) {
  nlohmann::json j = wan_config_json();
  j["solver_type"] = "bh1";
  j["disable_corrector"] = {0, 1};
  auto s = UniPCMultistepScheduler::from_config(wan_config(j));
  s.set_timesteps(10);
  EXPECT_EQ(s.solver().coefficients(1).corrector_order, 0);  // corrector after step 0 disabled
  EXPECT_EQ(s.solver().coefficients(2).corrector_order, 0);
  EXPECT_EQ(s.solver().coefficients(3).corrector_order, 2);
  auto bh2 = UniPCMultistepScheduler::from_config(wan_config());
  bh2.set_timesteps(10);
  EXPECT_NE(s.solver().coefficients(3).corr_m[0], bh2.solver().coefficients(3).corr_m[0]);
  for (int k = 0; k < 10; ++k) {
    const auto c = s.solver().coefficients(k);
    EXPECT_NEAR(c.pred_base + c.pred_m[0] + c.pred_m[1], 1.0, 1e-12) << k;
  }
}

TEST(MakeScheduler, NamesSelectSchedulersAndUnknownNamesListTheValidOnes) {
  for (const std::string name : {"flow_unipc", "checkpoint", "euler"}) {
    EXPECT_EQ(make(name, 3.0)->name(), name);
  }
  EXPECT_EQ(make_scheduler(kDefaultScheduler, 3.0, nullptr)->name(), "flow_unipc");
  try {
    make("ddim", 3.0);
    ADD_FAILURE() << "unknown name accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* valid : {"ddim", "flow_unipc", "checkpoint", "euler"}) {
      EXPECT_NE(msg.find(valid), std::string::npos) << msg;
    }
  }
  EXPECT_THROW(make_scheduler("checkpoint", 3.0, nullptr), Error);
}

TEST(MakeScheduler, CheckpointSchedulerReadsOnlyAUniPCConfig) {
  nlohmann::json json = wan_config_json();
  json["_class_name"] = "FlowMatchEulerDiscreteScheduler";
  const JsonFile cfg = wan_config(json);
  try {
    make_scheduler("checkpoint", 3.0, &cfg);
    ADD_FAILURE() << "a FlowMatchEulerDiscreteScheduler config configured UniPC";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("scheduler/scheduler_config.json: key '_class_name' has value "
                       "\"FlowMatchEulerDiscreteScheduler\""),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("only by UniPCMultistepScheduler"), std::string::npos) << msg;
  }
  EXPECT_EQ(make_scheduler("euler", 3.0, &cfg)->name(), "euler");
}

}  // namespace
}  // namespace fastvideo
