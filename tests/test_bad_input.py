"""Bad input, table-driven and fuzzed: one line on stderr naming file, line and key, exit
2, nothing written, never a traceback, and never a hang."""

import re
import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from support.helpers import run
from fvcli.config import SpecError, load_job_file
from fvcli.config.errors import CheckSkipped

GOOD_JOB = "{name: a, objective: channel, layer: conv2, channels: 1}"


def job_file(line: str) -> str:
    """A demo-model file whose line 3 is a job with ``line`` appended to it."""
    return f"model: demo\njobs:\n  - {{name: a, objective: channel, layer: conv2, channels: 1, {line}}}\n"


def laughs() -> str:
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for n in range(1, 10):
        previous, name = chr(96 + n), chr(97 + n)
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
    return text


CASES = [
    # (what, file bytes, line, message; DIR: the job file's folder)
    ("not UTF-8", b"model: demo\njobs:\n  - {name: caf\xe9}\n", 3, "not UTF-8 text"),
    ("billion laughs", laughs().encode(), None, "expands to more than"),
    ("over the size limit", b"# padding\n" * 120_000, None, "larger than"),
    ("not a mapping", b"- one\n- two\n", 1, "expected a mapping"),
    ("alias containing itself", b"jobs: &x [*x]\n", 1, "contains itself"),
    ("deep nesting", ("jobs: " + "[" * 60 + "]" * 60 + "\n").encode(), 1, "nested more than"),
    # thousands of levels: deeper than Python's stack would take, were the parser to recurse
    ("nesting 3000 deep", ("jobs: " + "[" * 3000 + "]" * 3000 + "\n").encode(), 1,
     "nested more than"),
    ("mappings 3000 deep", ("model: demo\njobs:\n  - " + "{a: " * 3000 + "1" + "}" * 3000
                            + "\n").encode(), 3, "nested more than"),
    ("size zero", job_file("size: 0").encode(), 3, "jobs[0].size: 0 is out of range"),
    ("size absurd", job_file("size: 99999").encode(), 3, "jobs[0].size: 99999 is out of range"),
    ("steps negative", job_file("steps: -1").encode(), 3, "jobs[0].steps"),
    ("steps absurd", job_file("steps: 100000000").encode(), 3, "jobs[0].steps"),
    ("steps not a number", job_file("steps: many").encode(), 3, "expected a whole number"),
    ("batch zero", job_file("batch_size: 0").encode(), 3, "jobs[0].batch_size"),
    ("batch absurd", job_file("batch_size: 5000").encode(), 3, "jobs[0].batch_size"),
    ("rate NaN", job_file("learning_rate: .nan").encode(), 3, "expected a finite number"),
    ("rate infinite", job_file("learning_rate: .inf").encode(), 3, "expected a finite number"),
    ("rate absurd", job_file("learning_rate: 1e30").encode(), 3, "jobs[0].learning_rate"),
    ("seed absurd", job_file("seed: 99999999999999").encode(), 3, "jobs[0].seed"),
    ("weight NaN", job_file("weight: .nan").encode(), 3, "jobs[0].weight"),
    ("regulariser NaN", job_file("regularizers: {tv: .nan}").encode(), 3,
     "jobs[0].regularizers.tv"),
    ("scale NaN", job_file("transforms: [{scale: [.nan, 1.0]}]").encode(), 3,
     "jobs[0].transforms.scale"),
    ("diversity count absurd", job_file("diversity: {count: 1000, layer: conv2}").encode(), 3,
     "jobs[0].diversity.count"),
    ("diversity weight NaN", job_file("diversity: {count: 2, weight: .nan, layer: conv2}")
     .encode(), 3, "jobs[0].diversity.weight"),
    ("frames absurd", b"model: demo\njobs:\n  - {name: m, objective: interpolate, frames: 9999,"
     b" from: {layer: conv2, channel: 1}, to: {layer: conv2, channel: 2}}\n", 3, "frames"),
    ("duplicate names", f"model: demo\njobs:\n  - {GOOD_JOB}\n  - {GOOD_JOB}\n".encode(), 4,
     "used by an earlier job"),
    ("name with ..", job_file("").replace("name: a", "name: ../x").encode(), 3,
     "cannot name a folder"),
    ("absolute name", job_file("").replace("name: a", "name: /tmp/x").encode(), 3,
     "cannot name a folder"),
    ("name with separator", job_file("").replace("name: a", "name: a/b").encode(), 3,
     "cannot name a folder"),
    ("empty name", job_file("").replace("name: a", "name: ''").encode(), 3,
     "cannot name a folder"),
    ("dot name", job_file("").replace("name: a", "name: .").encode(), 3,
     "cannot name a folder"),
    ("missing init image", job_file("init: nowhere.png").encode(), 3, "jobs[0].init"),
    ("missing vectors", b"model: demo\njobs:\n  - {name: d, objective: direction, layer: conv2,"
     b" vectors: nowhere.npy}\n", 3, "jobs[0].vectors: cannot read DIR/nowhere.npy"),
    ("missing example images", job_file("examples: {images: nowhere}").encode(), 3,
     "jobs[0].examples.images"),
    ("missing model", b"model: {path: nowhere}\njobs:\n  - " + GOOD_JOB.encode() + b"\n", 1,
     "model: model path DIR/nowhere does not exist"),
    ("batch beyond memory", job_file("size: 2048, batch_size: 1024, layer: conv4").replace(
        "layer: conv2, channels: 1", "channels: all").encode(), 3, "GiB (estimated)"),
]


@pytest.mark.parametrize("what, data, line, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, what, data, line,
                                                          message):
    path = tmp_path / "jobs.yaml"
    path.write_bytes(data)
    result = run("render", path, "--out", tmp_path / "out")
    assert result.exit_code == 2, (what, result.output)
    assert "Traceback" not in result.output
    (error,) = result.stderr.strip().splitlines()
    assert error.startswith(f"fvcli: error: {path}:{line}:" if line else f"fvcli: error: {path}")
    assert message.replace("DIR", str(tmp_path)) in error, error
    assert not (tmp_path / "out").exists()


def test_a_yaml_tag_that_would_run_a_command_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "jobs.yaml"
    path.write_text(f"jobs: !!python/object/apply:os.system ['touch {marker}']\n")
    result = run("render", path, "--out", tmp_path / "out")
    assert result.exit_code == 2
    (error,) = result.stderr.strip().splitlines()
    assert error.startswith(f"fvcli: error: {path}:1:") and "not allowed in a job file" in error
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_validate_refuses_a_file_nested_thousands_deep_as_render_does(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("model: demo\njobs:\n  - " + "[" * 3000 + "]" * 3000 + "\n")
    result = run("validate", path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    (error,) = result.stderr.strip().splitlines()
    assert error == f"fvcli: error: {path}:3: nested more than 32 levels deep"


def test_a_damaged_or_foreign_model_file_is_one_line(tmp_path):
    import shutil

    from fvcli.config.model_names import DEMO_MODEL_DIR

    damaged = tmp_path / "damaged"
    shutil.copytree(DEMO_MODEL_DIR, damaged)
    variables = next((damaged / "variables").glob("variables.data*"))
    variables.write_bytes(variables.read_bytes()[:100])
    fake_keras = tmp_path / "model.keras"
    fake_keras.write_text("not a Keras file")
    fake_h5 = tmp_path / "model.h5"
    fake_h5.write_text("not an HDF5 file")
    for model, message in ((damaged, "cannot load"),
                           (fake_keras, "not a Keras model file: a .keras file is a zip"),
                           (fake_h5, "not a Keras model file: a .h5 file is an HDF5 file")):
        result = run("layers", "--model", model)
        assert result.exit_code == 2 and "Traceback" not in result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("fvcli: error: --model: ") and str(model) in line
        assert message in line and "not found" not in line


def test_validate_reports_every_error_of_a_file_in_line_order(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text(textwrap.dedent("""\
        model: demo
        jobs:
          - {name: a, objective: channel, layer: conv9, channels: 1}
          - {name: b, objective: channel, layer: conv2, channels: 99}
          - {name: c, objective: chanel, layer: conv2, channels: 1}
          - {name: d, objective: channel, layer: conv2, channels: 1, steps: -4}
          - {name: e, objective: channel, layer: conv2, channels: 1}
        """))
    result = run("validate", path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(f"{path}:")[1].split(":")[0] for line in lines] == ["3", "4", "5", "6",
                                                                          "5"]
    # job c's objective is wrong, so its layer and channels are not checked, and it says so
    assert lines[-1].startswith(f"fvcli: note: {path}:5: jobs[2]: ")


def test_validate_lists_every_problem_of_a_file_in_one_pass_in_line_order(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text(textwrap.dedent("""\
        model: demo
        defaults:
          stpes: 8
          size: 0
          learning_rate: .nan
        jobs:
          - {name: f/g, objective: channel, layer: conv2, channels: 1, steps: -1}
          - {name: a, objective: channel, layer: conv2, channels: 1, init: nowhere.png}
          - {name: a, objective: channel, layer: conv9, channels: 1}
          - name: b
            objective: channel
            layer: conv2
            channels: 99
            seed: -2
            transforms: [{jitter: many}]
        """))
    result = run("validate", path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    errors = [line.removeprefix(f"fvcli: error: {path}:")
              for line in result.stderr.splitlines() if line.startswith("fvcli: error:")]
    where = [tuple(error.split(": ")[:2]) for error in errors]
    assert where == [("3", "defaults.stpes"), ("4", "defaults.size"),
                     ("5", "defaults.learning_rate"),
                     ("7", "jobs[0].steps"), ("7", "jobs[0].name"), ("8", "jobs[1].init"),
                     ("9", "jobs[2].name"), ("9", "jobs[2].layer"), ("13", "jobs[3].channels"),
                     ("14", "jobs[3].seed"), ("15", "jobs[3].transforms.jitter")], errors
    assert f"cannot read {tmp_path / 'nowhere.png'} as an image" in errors[5]
    assert not [line for line in result.stderr.splitlines()
                if not line.startswith(("fvcli: error:", "fvcli: note:"))]


def test_a_check_that_depends_on_a_wrong_value_is_left_out_and_says_so(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text("model: demo\njobs:\n"
                    "  - {name: a, objective: nueron, layer: conv9, channels: 1}\n"
                    "  - {name: b, objective: neuron, layer: conv2, channels: 1, size: 0,\n"
                    "     position: [40, 40]}\n")
    result = run("validate", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"fvcli: error: {path}:3: jobs[0].objective: unknown objective 'nueron'; did you "
        "mean 'neuron'? expected one of channel, neuron, deepdream, logit, probability, "
        "direction, interpolate",
        f"fvcli: error: {path}:4: jobs[1].size: 0 is out of range; expected a whole number "
        "from 16 to 2048",
        f"fvcli: note: {path}:3: jobs[0]: its layers, channels and the rest of its objective "
        "are checked once the errors above in its objective are fixed",
        f"fvcli: note: {path}:4: jobs[1]: its neuron position is checked against the "
        "layer's map once its size is fixed"]


def test_a_missing_model_is_listed_with_the_files_other_problems(tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text("model: {path: nowhere.keras}\ndefaults: {steps: -1}\n"
                    "jobs:\n  - {name: a, objective: channel, layer: conv2, channels: 1}\n")
    result = run("validate", path)
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors == [
        f"fvcli: error: {path}:1: model: model path {tmp_path / 'nowhere.keras'} does not "
        "exist",
        f"fvcli: error: {path}:2: defaults.steps: -1 is out of range; expected a whole "
        "number from 0 to 1000000"]


BAD_KEYS = {  # key: (a wrong value, the key an error names)
    "size": ("0", "size"), "steps": ("-1", "steps"), "batch_size": ("0", "batch_size"),
    "seed": ("-3", "seed"), "learning_rate": (".inf", "learning_rate"),
    "revive": ("maybe", "revive"), "precision": ("fp8", "precision"),
    "param": ("{fft: 2}", "param"), "transforms": ("[{pad: -1}]", "transforms.pad"),
    "regularizers": ("{tv: -1}", "regularizers.tv"), "name": ("a/b", "name"),
    "init": ("nowhere.png", "init"), "examples": ("{images: nowhere}", "examples.images"),
    "stpes": ("8", "stpes"),
}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(sorted(BAD_KEYS)), min_size=1, unique=True),
       st.booleans())
def test_every_wrong_key_of_a_job_or_of_defaults_is_reported_once(tmp_path_factory, keys,
                                                                   in_defaults):
    """Whatever wrong keys a job (or the defaults, for settings) holds, one pass names each
    of them, once, on its line."""
    folder = tmp_path_factory.mktemp("keys")
    settings_keys = [key for key in keys if key not in ("name", "init", "examples")]
    below = settings_keys if in_defaults else []
    lines = ["model: demo", "defaults:"] + [f"  {key}: {BAD_KEYS[key][0]}" for key in below]
    lines += ["  size: 32"] * (not below) + ["jobs:", "  - objective: channel",
                                            "    layer: conv2", "    channels: 1"]
    lines += [f"    {key}: {BAD_KEYS[key][0]}" for key in keys if key not in below]
    path = folder / "jobs.yaml"
    path.write_text("\n".join(lines) + "\n")
    errors = []
    load_job_file(str(path), errors=errors)
    found = sorted((error.line, str(error).split(": ")[1]) for error in errors
                   if not isinstance(error, CheckSkipped))
    prefix = {key: "defaults" if key in below else "jobs[0]" for key in keys}
    expected = sorted((lines.index(f"  {'  ' * (key not in below)}{key}: {BAD_KEYS[key][0]}")
                       + 1, f"{prefix[key]}.{BAD_KEYS[key][1]}") for key in keys)
    assert found == expected


# ----------------------------------------------------------------------------- fuzzing

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=12))
documents = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children,
                                                    max_size=4)), max_leaves=20)
KEYS = ["size", "steps", "batch_size", "seed", "learning_rate", "param", "transforms",
        "regularizers", "revive", "precision", "xla", "channels", "layer", "objective",
        "weight", "position", "diversity", "frames", "from", "to", "vector", "vectors",
        "cossim_pow", "init", "examples", "name", "negative", "sign"]


def yaml_lines(data: bytes) -> int:
    """Lines of ``data`` as YAML counts them: a lone carriage return, NEL and the Unicode
    line and paragraph separators end a line too."""
    text = data.decode("utf-8", errors="replace")
    return len(re.findall("\r\n|[\r\n\x85\u2028\u2029]", text)) + 1


def parses_or_fails_cleanly(tmp_path, data: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    try:
        load_job_file(str(path))
    except SpecError as error:
        message = str(error)
        assert len(message.splitlines()) == 1, message  # one line, in any terminal or log
        assert message.startswith(f"{path}:"), message
        assert 0 <= error.line <= yaml_lines(data), (error.line, message)
        assert message.split(": ", 1)[1].strip(), message  # it says what is wrong


@settings(max_examples=150, deadline=1000)
@given(documents)
def test_random_yaml_documents_parse_or_fail_cleanly(tmp_path_factory, document):
    text = yaml.safe_dump(document)
    parses_or_fails_cleanly(tmp_path_factory.mktemp("fuzz"), text.encode())


@settings(max_examples=150, deadline=1000)
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_fail_cleanly(tmp_path_factory, data):
    parses_or_fails_cleanly(tmp_path_factory.mktemp("fuzz"), data)


@settings(max_examples=300, deadline=1000)
@given(st.sampled_from(KEYS), documents)
def test_random_values_of_every_key_parse_or_fail_cleanly(tmp_path_factory, key, value):
    job = {"name": "a", "objective": "channel", "layer": "conv2", "channels": 1, key: value}
    text = yaml.safe_dump({"model": "demo", "jobs": [job]})
    parses_or_fails_cleanly(tmp_path_factory.mktemp("fuzz"), text.encode())


@pytest.mark.parametrize("args, message", [
    (["render", "JOBS", "--out", "AFILE"], "--out: directory 'AFILE' is a file; give a folder"),
    (["examples", "JOBS", "--images", "NOTHERE"], "--images: directory 'NOTHERE' does not exist"),
    (["status", "NOTHERE"], "TARGET: path 'NOTHERE' does not exist"),
    (["render", "JOBS", "--size", "3"], "--size: 3 is not in the range"),
    (["render"], "missing argument 'JOB_FILES...'"),
    (["render", "JOBS", "--forse"], "no such option '--forse'; did you mean"),
])
def test_usage_errors_speak_as_fvcli_after_the_usage_line(tmp_path, args, message):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(job_file(""))
    (tmp_path / "afile").write_text("a file")
    paths = {"JOBS": jobs, "AFILE": tmp_path / "afile", "NOTHERE": tmp_path / "nothere"}
    result = run(*[paths.get(arg, arg) for arg in args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Usage: ") and "Error" not in result.stderr
    for name, path in paths.items():
        message = message.replace(name, str(path))
    assert lines[-1].startswith(f"fvcli: error: {message}"), lines[-1]


def test_a_precision_given_on_the_command_line_is_blamed_on_the_option(tmp_path):
    from fvcli.engine.hardware import resolve_device

    if resolve_device("auto").kind != "cpu":
        pytest.skip("fp16 is refused only on a CPU")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(job_file(""))
    result = run("render", jobs, "--precision", "fp16", "--out", tmp_path / "out")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("fvcli: error: --precision: ") and str(jobs) not in line
    assert "fp16" in line and not (tmp_path / "out").exists()


def test_status_on_a_file_that_is_no_job_file_says_what_status_takes(tmp_path):
    log = tmp_path / "render.log"
    log.write_text("fvcli: 3/12 units\n  : [\n")
    result = run("status", log)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"fvcli: error: {log} is a file, not an output folder")
    assert "YAML" not in line


def test_ctrl_c_before_a_command_can_stop_cleanly_is_a_stop_not_an_error(monkeypatch):
    import sys

    layers = sys.modules["fvcli.cli.layers"]  # the module, which fvcli.cli's command hides

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(layers, "load_network_or_fail", interrupted)
    result = run("layers", "--model", "demo")
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines()[-1].startswith("fvcli: stopped by Ctrl-C")


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n0000",
                                     b"\xff\xd8\xff\xe0 truncated jpeg"])
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_an_unreadable_image_is_explained_without_the_decoder_s_noise(tmp_path, content,
                                                                       suffix):
    import imageio.v3 as iio

    from fvcli.images import unreadable_reason

    path = tmp_path / f"broken{suffix}"
    path.write_bytes(content)
    with pytest.raises(Exception) as raised:
        iio.imread(path)
    reason = unreadable_reason(str(path), raised.value)
    assert reason and "\n" not in reason
    assert not set("`") & set(reason) and "unpack_from" not in reason and "pip" not in reason
    assert (reason == "the file is empty") == (content == b"")
