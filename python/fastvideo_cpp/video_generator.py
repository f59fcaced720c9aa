"""VideoGenerator: FastVideo's entry point (fastvideo.md §1.1) over the C++ engine.

The model loads once, in from_pretrained/from_config; each generate/generate_video call runs one
request on a worker thread with the GIL released, while the calling thread waits where Python can
deliver Ctrl-C: a KeyboardInterrupt stops the generation at its next step (the engine removes
anything it was writing) and is raised again once the engine has stopped. SIGTERM and SIGHUP (a
`timeout`, `docker stop`, a scheduler, a closed terminal) stop it the same way when the call runs
on the main thread, and are then delivered again: the program's own handler runs, or the process
ends by the signal as it would have, with nothing half-written left behind.
"""

from __future__ import annotations

import contextlib
import copy
import signal
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable

from . import _fastvideo_cpp
from .progress_bar import ProgressBar
from .result import GenerationResult
from .sampling_param import SamplingParam
from .setting_keys import (GENERATOR_KEYWORDS, REQUEST_KEYWORDS, apply_keywords, as_yaml,
                           check_aliases, check_keywords, checked_mapping, checked_model_path)

ProgressCallback = Callable[[int, int, float], Any]  # (step, total, seconds per step)

# generate_video keywords that are not request keys: handled here.
_GENERATE_VIDEO_OWN = {"return_frames": "", "callback": "", "progress_bar": ""}


class _StopSignal(BaseException):
    """SIGTERM or SIGHUP during a generation: it stops the engine as Ctrl-C does."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                      if hasattr(signal, name))


@contextlib.contextmanager
def _stop_signals_raise():
    """On the main thread (the only one Python delivers signals to), SIGTERM and SIGHUP raise
    _StopSignal while the block runs, unless the program ignores them or a C library set their
    handler; the previous handlers are back afterwards."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        def raise_stop(signum, frame):
            raise _StopSignal(signum)

        for signum in _STOP_SIGNALS:
            handler = signal.getsignal(signum)
            if handler is not signal.SIG_IGN and handler is not None:
                previous[signum] = signal.signal(signum, raise_stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _deliver_again(stop: _StopSignal) -> None:
    """After the engine stopped: the signal as the program meant it (by default the process ends
    by it); where the program's handler returns, the call fails."""
    signal.raise_signal(stop.signum)
    raise InterruptedError(f"the generation was stopped by {signal.Signals(stop.signum).name}; "
                           "nothing of it was written")


def _check_prompts(prompt: Any, where: str) -> None:
    """A prompt is a string (None: not given); a list of them is checked whole, before the first
    generation."""
    listed = isinstance(prompt, (list, tuple))
    if listed and not prompt:
        raise ValueError(f"{where}: the prompt list is empty; give at least one prompt")
    for i, p in enumerate(prompt if listed else ([] if prompt is None else [prompt])):
        if not isinstance(p, str):
            got = f"a {type(prompt).__name__} holding {type(p).__name__}" if listed else \
                type(p).__name__
            raise TypeError(f"{where}: expected a string or a list of strings, got {got}")
        which = f"prompt {i}" if listed else "the prompt"
        try:  # text YAML cannot carry (a lone surrogate) is named here, not in a YAML error
            p.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"{where}: {which} is not valid Unicode text ({e.reason} at "
                             f"character {e.start}: {p[e.start]!r})") from None
        # A list's prompts are all checked before its first video is written, as a prompt file's
        # (one prompt: the engine's own check names it).
        if listed and not p.strip():
            raise ValueError(f"{where}: prompt {i} is empty or only whitespace; give a prompt")
        if listed and "\0" in p:
            raise ValueError(f"{where}: prompt {i} holds a NUL byte at offset {p.index(chr(0))}")


def _check_progress_keywords(function: str, callback: Any, progress_bar: Any) -> None:
    if callback is not None and not callable(callback):
        raise TypeError(f"{function}(callback={callback!r}): expected a callable taking (step, "
                        f"total, seconds_per_step), got {type(callback).__name__}")
    if progress_bar is not None and not isinstance(progress_bar, bool):
        raise TypeError(f"{function}(progress_bar={progress_bar!r}): expected True, False or None "
                        f"(drawn on a terminal), got {type(progress_bar).__name__}")


def _check_output_for_prompts(config: _fastvideo_cpp.RunConfig, output_path: str,
                              output_video_name: bool) -> None:
    """Before any work: a list of prompts needs a folder to name its videos in, as prompt_path
    does (RunConfig::output); one file would be written once and then refused or replaced."""
    out = config.output()  # "" without a file; a folder ends with "/"
    if out and (output_video_name or not out.endswith("/")):
        raise _fastvideo_cpp.FastVideoError(
            f"{out}: with a list of prompts each video is named from its prompt, so "
            f"{output_path} must be a folder (and output_video_name unset)")
    # An earlier run's PNG frames there are an output each video would replace.
    if out and _fastvideo_cpp.frame_folder_written_for(out):
        raise _fastvideo_cpp.FastVideoError(
            f"{out}: holds an earlier run's PNG frames, which every video of a list of prompts "
            f"would replace; give {output_path} a folder to name the videos in")


# The engine's messages name the CLI's flags; from Python, the keyword or request key instead.
_PYTHON_TERMS = {
    "generate_video": {"set overwrite (--overwrite)": "pass overwrite=True",
                       'give a prompt (--prompt "...")': "pass a prompt"},
    "generate": {"set overwrite (--overwrite)": 'set "output": {"overwrite": True} in the request',
                 'give a prompt (--prompt "...")': 'set the request\'s "prompt"'},
}


def _raise_in_python_terms(error: _fastvideo_cpp.FastVideoError, function: str) -> None:
    message = str(error)
    for cli, python in _PYTHON_TERMS[function].items():
        message = message.replace(cli, python)
    if message != str(error):
        raise type(error)(message) from None


def _check_output_type(value: Any) -> None:
    """FastVideo's from_pretrained(output_type=...): what generate_video hands back. Here frames
    are always uint8 NumPy arrays, FastVideo's "np"; any other type is refused by name."""
    if value is not None and value != "np":
        raise _fastvideo_cpp.FastVideoError(
            f"from_pretrained(output_type={value!r}): this engine returns frames as uint8 NumPy "
            f"arrays (output_type 'np'); no other output type is implemented")


def _one_text_encoder_precision(precisions: Any, single: Any) -> Any:
    """FastVideo's text_encoder_precisions: one entry per text encoder; Wan2.1 has one (UMT5),
    so a sequence of one precision, which becomes text_encoder_precision."""
    where = f"from_pretrained(text_encoder_precisions={precisions!r})"
    if isinstance(precisions, str) or not isinstance(precisions, (list, tuple)):
        raise TypeError(f"{where}: expected a tuple with one precision per text encoder, "
                        f"got {type(precisions).__name__}")
    if len(precisions) != 1:
        raise _fastvideo_cpp.FastVideoError(
            f"{where}: Wan2.1 has one text encoder (UMT5), so one precision, got "
            f"{len(precisions)}")
    if single is not None and single != precisions[0]:
        raise TypeError(f"from_pretrained() got text_encoder_precisions={precisions!r} and "
                        f"text_encoder_precision={single!r}; they set the same thing")
    return precisions[0]


def _not_in_this_version(method: str, why: str) -> None:
    raise _fastvideo_cpp.FastVideoError(f"VideoGenerator.{method}() is not in this version: {why}")


class VideoGenerator:
    def __init__(self, model_path: str, config: _fastvideo_cpp.RunConfig):
        """Use from_pretrained or from_config."""
        self.model_path = model_path
        self._config = config  # the generator settings every request starts from
        self._engine = _fastvideo_cpp.Generator(model_path, config)
        self._busy = threading.Lock()  # one generation at a time, as the engine runs them
        # The thread running the engine now: callbacks run on it, and a generation started there
        # would wait for _busy, which its own caller holds, forever.
        self._worker: threading.Thread | None = None

    @classmethod
    def from_pretrained(cls, model_path: str | Mapping | None = None,
                        **kwargs: Any) -> VideoGenerator:
        """Loads a diffusers checkpoint folder (None: the CLI's tiny test model).

        Keywords take FastVideo's names: those the engine implements act (attention_backend,
        VSA_sparsity, flow_shift, the offload switches, max_device_memory, num_gpus and
        sp_size, ...; FASTVIDEO_ATTENTION_BACKEND is read here when no backend is given),
        defaults that describe what it does anyway are accepted (tp_size=-1), anything else
        raises FastVideoError naming the keyword and why; an unknown keyword raises TypeError.
        A keyword given as None is not given (its default), as in generate_video.
        """
        if "config" in kwargs and kwargs["config"] is None:
            del kwargs["config"]  # None is not given, as for every keyword
        if isinstance(model_path, Mapping) or "config" in kwargs:
            # FastVideo: a mapping (or config=) is a generator config, with no other keywords.
            mapping = model_path if isinstance(model_path, Mapping) else kwargs.pop("config")
            if kwargs or (model_path is not None and not isinstance(model_path, Mapping)):
                raise TypeError("from_pretrained(): a generator config takes no other arguments")
            return cls.from_config(mapping)
        check_keywords("from_pretrained", kwargs,
                       {**GENERATOR_KEYWORDS, "nvfp4_fa4": "", "output_type": "",
                        "text_encoder_precisions": ""})
        nvfp4_fa4 = kwargs.pop("nvfp4_fa4", False)
        if nvfp4_fa4 is None:  # not given
            nvfp4_fa4 = False
        _check_output_type(kwargs.pop("output_type", None))
        precisions = kwargs.pop("text_encoder_precisions", None)
        if precisions is not None:
            kwargs["text_encoder_precision"] = _one_text_encoder_precision(
                precisions, kwargs.get("text_encoder_precision"))
        config = _fastvideo_cpp.RunConfig()
        # None is "not given" (API audit: half the keywords took None as their default, the other
        # half refused it, tp_size=None as "not in this version").
        given = {name: value for name, value in kwargs.items() if value is not None}
        apply_keywords(config, "from_pretrained", given, GENERATOR_KEYWORDS)
        if model_path is not None:
            where = f"from_pretrained(model_path={model_path!r})"
            model_path = checked_model_path(model_path, where)
            config.apply_yaml(as_yaml({"generator": {"model_path": model_path}}, where), where)
        if nvfp4_fa4 is not False:
            return cls._load_nvfp4_fa4(nvfp4_fa4, config)
        return cls._load(config)

    @classmethod
    def from_config(cls, config: Mapping) -> VideoGenerator:
        """FastVideo's `generator` mapping (the same schema and checks as a run.yaml's)."""
        if not isinstance(config, Mapping):
            raise TypeError(f"from_config() expects the generator mapping, got "
                            f"{type(config).__name__}")
        run_config = _fastvideo_cpp.RunConfig()
        where = "from_config(generator)"
        run_config.apply_yaml(as_yaml({"generator": checked_mapping(config, "generator", where)},
                                      where), where)
        if run_config.model_path is not None:
            checked_model_path(run_config.model_path, f"{where}: model_path")
        return cls._load(run_config)

    @classmethod
    def _load(cls, config: _fastvideo_cpp.RunConfig) -> VideoGenerator:
        model = config.model_path
        return cls(model if model is not None else _fastvideo_cpp.default_tiny_model(), config)

    @classmethod
    def _load_nvfp4_fa4(cls, value: Any, config: _fastvideo_cpp.RunConfig) -> VideoGenerator:
        # FastVideo: FP4 Q/K inside FLASH_ATTN. Here it is its own backend, which the engine
        # accepts or refuses (Blackwell only) with the requirement named.
        where = f"from_pretrained(nvfp4_fa4={value!r})"
        if value is not True:
            raise _fastvideo_cpp.FastVideoError(f"{where}: expected True or False")
        if config.attention_backend not in ("", "FLASH_ATTN"):
            raise _fastvideo_cpp.FastVideoError(
                f"{where}: FP4 attention is a FLASH_ATTN variant, but attention_backend="
                f"{config.attention_backend!r} was given")
        config.set_attention_backend("nvfp4_fa4")
        try:
            return cls._load(config)
        except _fastvideo_cpp.FastVideoError as e:
            raise _fastvideo_cpp.FastVideoError(f"{where}: {e}") from None

    def generate(self, request: Mapping, *, callback: ProgressCallback | None = None,
                 progress_bar: bool | None = None) -> GenerationResult | list[GenerationResult]:
        """FastVideo's request mapping: {"prompt", "negative_prompt", "inputs", "sampling",
        "runtime", "output"}; unset fields take the model's preset. A list of prompts (or
        inputs.prompt_path) gives a list of results."""
        self._refuse_from_callback("generate")
        if not isinstance(request, Mapping):
            raise TypeError(f"generate() expects a request mapping, got {type(request).__name__}")
        _check_progress_keywords("generate", callback, progress_bar)
        where = "generate(request)"
        request = dict(request)
        output = dict(request.get("output") or {})
        return_frames = output.pop("return_frames", None)
        return_frames = True if return_frames is None else return_frames
        if not isinstance(return_frames, bool):
            raise TypeError(f"generate(request): output.return_frames={return_frames!r}: "
                            f"expected True or False")
        if "output" in request:
            request["output"] = output
        prompt = request.get("prompt")
        _check_prompts(prompt, f"{where}: request.prompt={prompt!r}")
        request = checked_mapping({k: v for k, v in request.items() if k != "prompt"},
                                  "request", where)
        config = copy.copy(self._config)
        config.apply_yaml(as_yaml({"request": request}, where), where)
        if isinstance(prompt, (list, tuple)):
            _check_output_for_prompts(config, "request.output.output_path",
                                      output.get("output_video_name") is not None)
            results = [self.generate({**request, "prompt": p,
                                      "output": {**request.get("output", {}),
                                                 "return_frames": return_frames}},
                                     callback=callback, progress_bar=progress_bar) for p in prompt]
            for index, result in enumerate(results):  # FastVideo numbers a list's results
                result.prompt_index = index
            return results
        if prompt is not None:
            config.apply_yaml(as_yaml({"request": {"prompt": prompt}}, where), where)
        return self._run_config("generate", config, return_frames, callback, progress_bar)

    def generate_video(self, prompt: str | list[str] | None = None,
                       sampling_param: SamplingParam | None = None,
                       **kwargs: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """FastVideo's legacy call: sampling fields as keywords (seed, num_frames, height, width,
        num_inference_steps, guidance_scale, negative_prompt, output_path, save_video, fps, ...)
        over sampling_param's; returns FastVideo's result dict (frames: (F, H, W, 3) uint8).
        Also: callback(step, total, seconds_per_step) after each step; progress_bar (default: on
        a terminal)."""
        self._refuse_from_callback("generate_video")
        # None is "not given" (SamplingParam's fields: the model's preset), not YAML's null.
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        callback = kwargs.pop("callback", None)
        progress_bar = kwargs.pop("progress_bar", None)
        _check_progress_keywords("generate_video", callback, progress_bar)
        check_keywords("generate_video", kwargs, {**REQUEST_KEYWORDS, **_GENERATE_VIDEO_OWN})
        check_aliases("generate_video", kwargs, REQUEST_KEYWORDS)
        if sampling_param is not None and not isinstance(sampling_param, SamplingParam):
            raise TypeError(f"generate_video(sampling_param=...): expected a SamplingParam "
                            f"(SamplingParam.from_pretrained(model)), got "
                            f"{type(sampling_param).__name__}")
        keywords = sampling_param.as_keywords() if sampling_param is not None else {}
        if prompt is not None:
            keywords["prompt"] = prompt
        # A keyword replaces sampling_param's field under any of its names (neg_prompt).
        given = {REQUEST_KEYWORDS[k] for k in kwargs if k in REQUEST_KEYWORDS}
        keywords = {k: v for k, v in keywords.items() if REQUEST_KEYWORDS.get(k) not in given}
        keywords.update(kwargs)
        return_frames = keywords.pop("return_frames", True)
        if not isinstance(return_frames, bool):
            raise TypeError(f"generate_video(return_frames={return_frames!r}): expected True or "
                            f"False, got {type(return_frames).__name__}")
        prompt = keywords.pop("prompt", None)
        _check_prompts(prompt, f"generate_video(prompt={prompt!r})")
        # Every keyword checked before the first generation of a prompt list.
        config = copy.copy(self._config)
        apply_keywords(config, "generate_video", keywords, REQUEST_KEYWORDS)
        if isinstance(prompt, (list, tuple)):
            _check_output_for_prompts(config, "output_path",
                                      keywords.get("output_video_name") is not None)
            return [self.generate_video(p, None, callback=callback, progress_bar=progress_bar,
                                        return_frames=return_frames, **keywords) for p in prompt]
        if prompt is not None:
            apply_keywords(config, "generate_video", {"prompt": prompt}, REQUEST_KEYWORDS)
        result = self._run_config("generate_video", config, return_frames, callback,
                                  progress_bar)
        if isinstance(result, list):
            return [r.to_legacy_dict() for r in result]
        return result.to_legacy_dict()

    def shutdown(self) -> None:
        """Releases the model (FastVideo's shutdown); the generator cannot be used after."""
        self._engine = None

    # FastVideo's methods this version does not have: each refused by name with the reason, not an
    # AttributeError that reads like a misspelling (a helper's audit).
    def set_lora_adapter(self, *args: Any, **kwargs: Any) -> None:
        """Not in this version: LoRA adapters are not supported."""
        _not_in_this_version("set_lora_adapter", "LoRA adapters are not supported")

    def merge_lora_weights(self, *args: Any, **kwargs: Any) -> None:
        """Not in this version: LoRA adapters are not supported."""
        _not_in_this_version("merge_lora_weights", "LoRA adapters are not supported")

    def unmerge_lora_weights(self, *args: Any, **kwargs: Any) -> None:
        """Not in this version: LoRA adapters are not supported."""
        _not_in_this_version("unmerge_lora_weights", "LoRA adapters are not supported")

    def generate_async(self, *args: Any, **kwargs: Any) -> None:
        """Not in this version: generate() and generate_video() return when the video is made."""
        _not_in_this_version("generate_async", "generate() and generate_video() return when the "
                             "video is made (a progress callback reports the steps)")

    @classmethod
    def from_file(cls, *args: Any, **kwargs: Any) -> VideoGenerator:
        """Not in this version: use from_config with the file's mapping."""
        _not_in_this_version("from_file", "load the run file's mapping (yaml.safe_load) and pass "
                             "its 'generator' part to from_config")

    @classmethod
    def from_fastvideo_args(cls, *args: Any, **kwargs: Any) -> VideoGenerator:
        """Not in this version: FastVideoArgs objects are FastVideo's own; use from_pretrained."""
        _not_in_this_version("from_fastvideo_args", "FastVideoArgs is FastVideo's own class; pass "
                             "its fields to from_pretrained as keywords")

    def _refuse_from_callback(self, function: str) -> None:
        if self._worker is not None and threading.current_thread() is self._worker:
            raise _fastvideo_cpp.FastVideoError(
                f"{function}() called from its own progress callback: the callback runs on the "
                f"generation's worker thread, and a second generation cannot start before the "
                f"first ends (it would wait forever); start it after generate returns")

    def _run_config(self, function, config, return_frames, callback, progress_bar):
        prompt_path = config.prompt_path
        if prompt_path is None:
            return self._run(function, config, return_frames, callback, progress_bar)
        if config.prompt:
            raise _fastvideo_cpp.FastVideoError(
                "request.prompt and request.inputs.prompt_path are both set; give one of them")
        output = config.output()  # checked before any work: a folder to name the videos in
        del output
        results = []
        for index, prompt in enumerate(_fastvideo_cpp.read_prompt_file(prompt_path)):
            one = copy.copy(config)
            one.clear_prompt_path()
            one.set_prompt(prompt)
            results.append(self._run(function, one, return_frames, callback, progress_bar))
            results[-1].prompt_index = index  # the line's place among the file's prompts
        return results

    def _run(self, function: str, config, return_frames: bool,
             callback: ProgressCallback | None, progress_bar: bool | None) -> GenerationResult:
        self._refuse_from_callback(function)
        if self._engine is None:
            raise _fastvideo_cpp.FastVideoError("this VideoGenerator was shut down")
        bar = ProgressBar() if (ProgressBar.wanted() if progress_bar is None
                                else progress_bar) else None
        on_step = None
        if bar is not None or callback is not None:
            def on_step(step: int, total: int, seconds_per_step: float) -> None:
                if bar is not None:
                    bar(step, total, seconds_per_step)
                if callback is not None:
                    callback(step, total, seconds_per_step)
        outcome: dict[str, Any] = {}
        # Set by the worker when it is done. An Event, not Thread.join: a join that Ctrl-C
        # interrupts can mark the thread finished while it still runs (CPython bpo-45274's fix),
        # and the generator must not be used until the engine has stopped. Waiting on it again is
        # harmless, so a Ctrl-C at any point of the wait is taken.
        finished = threading.Event()
        # The worker generates only once `go` is set. A Ctrl-C inside Thread.start() cannot tell
        # whether the thread began; so `go` is set only after start() returned, and a Ctrl-C
        # before that marks the call abandoned: a worker that did start then ends at once.
        go = threading.Event()
        abandoned = False
        stop_wanted = False  # Ctrl-C came: a worker that has not called the engine yet does not

        def work() -> None:
            go.wait()
            if abandoned:
                return
            try:
                if not stop_wanted:
                    outcome["result"] = self._engine.generate(config, on_step)
            except BaseException as e:  # re-raised on the calling thread
                outcome["error"] = e
            finally:
                finished.set()

        start = time.perf_counter()
        try:
            with self._busy, _stop_signals_raise():
                self._worker = threading.Thread(target=work, name="fastvideo_cpp-generate",
                                                daemon=True)
                try:
                    self._worker.start()
                    go.set()
                    finished.wait()
                except (KeyboardInterrupt, _StopSignal):
                    abandoned = not go.is_set()
                    # Again: a Ctrl-C inside go.set() can come after its flag and before it woke
                    # the worker, which would then wait for good.
                    go.set()
                    if abandoned:  # nothing generated: no file, nothing to wait for
                        raise
                    # Stop at the next step, wait for the engine to clean up (at most one step; a
                    # second Ctrl-C or signal does not leave the engine running under a new
                    # request), then raise it. The engine takes a stop only while it runs
                    # (module.cpp), so the stop is asked again until the worker is done: one asked
                    # just before the worker entered the engine would be dropped, and the video
                    # finished regardless.
                    stop_wanted = True
                    while True:
                        try:
                            if finished.wait(0.05):
                                break
                            self._engine.request_stop()
                        except (KeyboardInterrupt, _StopSignal):
                            continue
                    raise
                finally:
                    if bar is not None:
                        bar.close()
        except _StopSignal as stop:  # the handlers are the program's again
            _deliver_again(stop)
        if "error" in outcome:
            error = outcome["error"]
            if isinstance(error, _fastvideo_cpp.FastVideoError):
                _raise_in_python_terms(error, function)
            raise error
        return GenerationResult.from_engine(outcome["result"], config.prompt, return_frames,
                                            time.perf_counter() - start)
