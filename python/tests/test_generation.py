"""Generation through the Python API on the tiny model: frames as a zero-copy (F, H, W, 3) uint8
array, FastVideo's result shapes, the request schema, callbacks and the progress bar, and Ctrl-C
stopping a generation between steps with nothing left behind."""

import io
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from fastvideo_cpp import FastVideoError, GenerationResult, SamplingParam, VideoGenerator


@pytest.fixture(scope="module")
def generator(tiny_model):
    return VideoGenerator.from_pretrained(tiny_model)


def test_frames_are_a_uint8_view_of_the_engine_buffer(generator):
    result = generator.generate({"prompt": "a red fox", "output": {"save_video": False}})
    frames = result.frames
    assert isinstance(frames, np.ndarray)
    assert frames.shape == (9, 64, 64, 3) and frames.dtype == np.uint8
    assert frames.flags.c_contiguous and not frames.flags.owndata
    # No copy: every read of the engine result's frames is the same memory.
    engine_result = result.extra["engine_result"]
    assert np.shares_memory(engine_result.frames, frames)
    assert engine_result.frames.ctypes.data == frames.ctypes.data
    assert frames.std() > 0  # a real video, not a zero buffer


def test_frames_outlive_the_result_object(generator):
    frames = generator.generate({"prompt": "a red fox",
                                 "output": {"save_video": False}}).frames
    copy = frames.copy()
    import gc
    gc.collect()
    assert (frames == copy).all()


def test_generate_video_returns_fastvideos_dict(generator, tmp_path):
    out = tmp_path / "fox.mp4"
    video = generator.generate_video("a red fox", seed=7, num_frames=5, height=32, width=48,
                                     num_inference_steps=2, guidance_scale=2.0,
                                     negative_prompt="blurry", output_path=str(out), fps=8)
    for key in ("prompts", "samples", "frames", "audio", "size", "generation_time",
                "e2e_latency", "logging_info", "trajectory", "video_path", "peak_memory_mb"):
        assert key in video
    assert video["frames"].shape == (5, 32, 48, 3)
    assert video["size"] == (32, 48, 5)  # FastVideo's (height, width, frames)
    assert video["video_path"] == str(out) and out.stat().st_size > 0
    assert video["prompts"] == "a red fox"
    assert video["generation_time"] > 0 and video["e2e_latency"] >= video["generation_time"]
    assert "denoise" in " ".join(video["logging_info"]).lower()


def test_generate_takes_fastvideos_request_schema(generator, tmp_path):
    result = generator.generate({
        "prompt": "a red fox",
        "negative_prompt": "",
        "sampling": {"seed": 3, "num_frames": 5, "num_inference_steps": 2, "fps": 12},
        "output": {"output_path": str(tmp_path), "save_video": True, "return_frames": False},
    })
    assert isinstance(result, GenerationResult)
    assert result.frames is None  # return_frames: False
    assert result.video_path == str(tmp_path / "a red fox.mp4")  # named from the prompt
    assert result.size == (64, 64, 5)
    params = result.extra["parameters"]
    assert params["seed"] == "3" and params["num_inference_steps"] == "2"


def test_a_prompt_list_fans_out(generator):
    results = generator.generate({"prompt": ["a fox", "a cat"], "sampling": {"num_frames": 1},
                                  "output": {"save_video": False}})
    assert [r.prompt for r in results] == ["a fox", "a cat"]
    assert [r.prompt_index for r in results] == [0, 1]  # FastVideo numbers them (a helper's audit)


def test_a_prompt_files_results_are_numbered(generator, tmp_path):
    (tmp_path / "prompts.txt").write_text("a fox\na cat\n")
    results = generator.generate({"inputs": {"prompt_path": str(tmp_path / "prompts.txt")},
                                  "sampling": {"num_frames": 1}, "output": {"save_video": False}})
    assert [(r.prompt, r.prompt_index) for r in results] == [("a fox", 0), ("a cat", 1)]
    videos = generator.generate_video(prompt_path=str(tmp_path / "prompts.txt"), num_frames=1,
                                      save_video=False)
    assert [(v["prompt"], v["prompt_index"]) for v in videos] == [("a fox", 0), ("a cat", 1)]


def test_generate_video_with_a_prompt_list_returns_a_list(generator):
    videos = generator.generate_video(["a fox", "a cat"], num_frames=1, save_video=False)
    assert [v["prompts"] for v in videos] == ["a fox", "a cat"]


@pytest.mark.parametrize("output", [{"output_path": "one.mp4"},
                                    {"output_path": "one.mp4", "overwrite": True},
                                    {"output_path": ".", "output_video_name": "one.mp4"}])
def test_a_prompt_list_with_one_output_file_is_refused_before_any_work(generator, tmp_path,
                                                                        output):
    # Each video is named from its prompt, as with prompt_path: one file would be written and
    # then refused, or (overwrite) replaced, with both results naming it.
    output = {k: str(tmp_path / v) if k == "output_path" else v for k, v in output.items()}
    with pytest.raises(FastVideoError, match="with a list of prompts.*must be a folder"):
        generator.generate_video(["a cat", "a dog"], num_frames=1, **output)
    with pytest.raises(FastVideoError, match="with a list of prompts.*must be a folder"):
        generator.generate({"prompt": ["a cat", "a dog"], "sampling": {"num_frames": 1},
                            "output": output})
    assert list(tmp_path.iterdir()) == []


def test_a_prompt_list_names_each_video_in_the_output_folder(generator, tmp_path):
    videos = generator.generate_video(["a cat", "a dog"], num_frames=1, output_path=str(tmp_path))
    assert [v["video_path"] for v in videos] == [str(tmp_path / "a cat.mp4"),
                                                 str(tmp_path / "a dog.mp4")]
    assert all(os.path.isfile(v["video_path"]) for v in videos)


def test_sampling_param_drives_generate_video(generator, tiny_model):
    param = SamplingParam.from_pretrained(tiny_model)
    param.num_frames = 5
    param.num_inference_steps = 2
    param.save_video = False
    a = generator.generate_video("a fox", sampling_param=param)
    b = generator.generate_video("a fox", sampling_param=param, seed=param.seed)
    assert a["frames"].shape[0] == 5 and (a["frames"] == b["frames"]).all()
    c = generator.generate_video("a fox", sampling_param=param, seed=param.seed + 1)
    assert (a["frames"] != c["frames"]).any()


def test_callback_sees_every_step(generator):
    steps = []
    generator.generate_video("a fox", num_inference_steps=3, num_frames=1, save_video=False,
                             callback=lambda step, total, sps: steps.append((step, total)))
    assert steps == [(1, 3), (2, 3), (3, 3)]


def test_a_raising_callback_stops_and_raises_its_error(generator, tmp_path):
    def callback(step, total, sps):
        raise ValueError("stop here")
    out = tmp_path / "fox.mp4"
    with pytest.raises(ValueError, match="stop here"):
        generator.generate_video("a fox", output_path=str(out), callback=callback)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_progress_bar_draws_steps(generator, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    generator.generate_video("a fox", num_inference_steps=2, num_frames=1, save_video=False,
                             progress_bar=True)
    text = stream.getvalue()
    assert "2/2" in text and "s/it" in text and text.endswith("\n")


def test_ctrl_c_stops_between_steps_and_leaves_no_file(generator, tmp_path):
    out = tmp_path / "fox.mp4"
    seen = []

    def press_ctrl_c(step, total, sps):
        seen.append(step)
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # a real SIGINT, as from the terminal
            time.sleep(0.5)  # a slow step: the main thread takes the signal meanwhile

    with pytest.raises(KeyboardInterrupt):
        generator.generate_video("a fox", num_inference_steps=4, output_path=str(out),
                                 callback=press_ctrl_c)
    assert seen and max(seen) < 4, seen  # stopped before the last step
    assert not out.exists() and list(tmp_path.iterdir()) == []
    # The stop ended with that generation: the next one runs to the end.
    video = generator.generate_video("a fox", num_inference_steps=2, output_path=str(out))
    assert video["video_path"] == str(out) and out.is_file()


def test_sigterm_stops_between_steps_leaves_no_file_then_reaches_the_programs_handler(
        generator, tmp_path):
    # A `timeout`, `docker stop` or a scheduler sends SIGTERM: the generation stops as for
    # Ctrl-C, its file is removed, and then the program's own handler runs (here one that
    # returns, so the call fails naming the signal).
    out = tmp_path / "fox.mp4"
    handled = []

    def handler(signum, frame):
        handled.append(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        def send_sigterm(step, total, sps):
            if step == 1:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.5)  # a slow step: the main thread takes the signal meanwhile

        with pytest.raises(InterruptedError, match="stopped by SIGTERM"):
            generator.generate_video("a fox", num_inference_steps=4, output_path=str(out),
                                     callback=send_sigterm)
        assert handled == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is handler  # the program's own again
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    video = generator.generate_video("a fox", num_inference_steps=1, num_frames=1,
                                     output_path=str(out))
    assert video["video_path"] == str(out) and out.is_file()


def test_sigterm_with_the_default_handler_ends_the_process_with_nothing_left(tiny_model,
                                                                              tmp_path):
    # The default disposition: the process ends by the signal, after the engine removed its file.
    script = (
        "import os, signal, sys, time\n"
        "from fastvideo_cpp import VideoGenerator\n"
        "g = VideoGenerator.from_pretrained(sys.argv[1])\n"
        "def cb(step, total, sps):\n"
        "    if step == 1:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(0.5)\n"
        "g.generate_video('a fox', num_inference_steps=4, output_path=sys.argv[2], callback=cb)\n"
        "print('not stopped')\n")
    out = tmp_path / "videos" / "fox.mp4"
    out.parent.mkdir()
    done = subprocess.run([sys.executable, "-c", script, tiny_model, str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGTERM, (done.returncode, done.stdout, done.stderr)
    assert "not stopped" not in done.stdout
    assert list(out.parent.iterdir()) == []


def test_an_empty_prompt_list_is_refused(generator):
    for prompts in ([], ()):
        with pytest.raises(ValueError, match="the prompt list is empty"):
            generator.generate_video(prompts, save_video=False)
    with pytest.raises(ValueError, match="the prompt list is empty"):
        generator.generate({"prompt": [], "output": {"save_video": False}})


@pytest.mark.parametrize("thread_began", [False, True])
def test_ctrl_c_inside_thread_start_generates_nothing(generator, tmp_path, monkeypatch,
                                                      thread_began):
    # A Ctrl-C while Thread.start() waits for the new thread (it came in the first milliseconds
    # of a call) used to leave the worker generating unseen, its output file behind. Either way
    # round (the thread began or not) nothing is generated now, and the generator stays usable.
    real_start = threading.Thread.start
    calls = []

    def interrupted_start(thread):
        if thread.name == "fastvideo_cpp-generate" and not calls:
            calls.append(thread)
            if thread_began:
                real_start(thread)
            raise KeyboardInterrupt
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", interrupted_start)
    steps = []
    with pytest.raises(KeyboardInterrupt):
        generator.generate_video("a fox", num_inference_steps=2, output_path=str(tmp_path) + "/",
                                 callback=lambda step, total, sps: steps.append(step))
    if thread_began:
        calls[0].join(timeout=10)
        assert not calls[0].is_alive()
    assert steps == [] and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    video = generator.generate_video("a fox", num_inference_steps=1, num_frames=1,
                                     output_path=str(tmp_path / "next.mp4"))
    assert (tmp_path / "next.mp4").is_file(), video


def test_ctrl_c_inside_the_go_signal_still_stops_the_engine(generator, tmp_path, monkeypatch):
    # Review: a Ctrl-C inside Event.set() after its flag and before it woke the waiting worker
    # left both threads waiting for good. The handler now wakes the worker again and stops it.
    import faulthandler
    real_set = threading.Event.set
    interrupted = []
    main = threading.get_ident()  # not current_thread(): a new thread is not registered yet

    def set_then_interrupt(event):
        if threading.get_ident() == main and not interrupted:
            interrupted.append(event)
            with event._cond:  # the flag, without the notify (CPython's Event internals)
                event._flag = True
            raise KeyboardInterrupt
        real_set(event)

    monkeypatch.setattr(threading.Event, "set", set_then_interrupt)
    faulthandler.dump_traceback_later(120, exit=True)  # a hang fails the run, not the CI clock
    try:
        with pytest.raises(KeyboardInterrupt):
            generator.generate_video("a fox", num_inference_steps=2,
                                     output_path=str(tmp_path) + "/")
    finally:
        faulthandler.cancel_dump_traceback_later()
    monkeypatch.undo()
    assert interrupted and list(tmp_path.iterdir()) == []
    video = generator.generate_video("a fox", num_inference_steps=1, num_frames=1,
                                     output_path=str(tmp_path / "next.mp4"))
    assert (tmp_path / "next.mp4").is_file(), video


def test_other_python_threads_run_while_the_engine_works(generator):
    # The engine runs with the GIL released: a pure-Python counter advances between two steps.
    # (With the GIL held, nothing could run between the callbacks of consecutive steps.)
    ticks = [0]
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks[0] += 1

    at_step = []
    counter = threading.Thread(target=count)
    counter.start()
    try:
        generator.generate_video("a fox", num_inference_steps=4, save_video=False,
                                 callback=lambda step, total, sps: at_step.append(ticks[0]))
    finally:
        done.set()
        counter.join()
    advanced = [b - a for a, b in zip(at_step, at_step[1:])]
    assert max(advanced) > 0, at_step


def test_generating_from_its_own_callback_is_refused_not_a_deadlock(tiny_model):
    # The callback runs on the worker thread, which would wait forever for the outer call's lock.
    # A fresh generator and a watchdog: a deadlock fails this test instead of hanging the session.
    generator = VideoGenerator.from_pretrained(tiny_model)
    outcome = {}

    def outer():
        def callback(step, total, sps):
            generator.generate_video("a cat", num_frames=1, save_video=False)
        try:
            generator.generate_video("a fox", num_inference_steps=2, num_frames=1,
                                     save_video=False, callback=callback)
        except Exception as e:
            outcome["error"] = e

    thread = threading.Thread(target=outer, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "generate_video from its own callback deadlocked"
    assert isinstance(outcome.get("error"), FastVideoError), outcome
    assert "generate_video() called from its own progress callback" in str(outcome["error"])
    # The refusal stopped that generation only: the generator still works.
    assert generator.generate_video("a fox", num_frames=1, save_video=False)["size"][2] == 1


def _engine_and_config(tiny_model, steps):
    """The module's own Generator (below the package's one-at-a-time lock) and a request."""
    import copy

    from fastvideo_cpp.setting_keys import REQUEST_KEYWORDS, apply_keywords
    generator = VideoGenerator.from_pretrained(tiny_model, device="cpu")
    config = copy.copy(generator._config)
    apply_keywords(config, "test", {"prompt": "a fox", "num_inference_steps": steps,
                                    "num_frames": 1, "save_video": False}, REQUEST_KEYWORDS)
    return generator, config


def test_two_threads_each_get_their_own_progress(tiny_model):
    # Straight on the module's Generator, which two threads reach at once: they take turns, and
    # each run reports to its own callback from first step to last (the C++ API audit: a callback
    # set mid-run took over the rest of the other's steps). A watchdog turns a deadlock into a
    # failure.
    generator, three = _engine_and_config(tiny_model, 3)
    _, five = _engine_and_config(tiny_model, 5)
    seen = {3: [], 5: []}
    errors = []

    def run(config, steps):
        try:
            generator._engine.generate(config, lambda step, total, sps: seen[steps].append(total))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c, n), daemon=True)
               for c, n in ((three, 3), (five, 5))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "two threads' generations deadlocked"
    assert errors == []
    assert seen == {3: [3, 3, 3], 5: [5, 5, 5, 5, 5]}


def test_the_modules_generate_from_its_own_callback_is_refused(tiny_model):
    generator, config = _engine_and_config(tiny_model, 2)
    outcome = {}

    def outer():
        def callback(step, total, sps):
            generator._engine.generate(config, None)
        try:
            generator._engine.generate(config, callback)
        except Exception as e:  # noqa: BLE001 - checked below
            outcome["error"] = e

    thread = threading.Thread(target=outer, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "generate from its own callback deadlocked"
    assert "called from its own progress callback" in str(outcome.get("error")), outcome
