"""Configuration: YAML file, environment overrides, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kartoteka.infrastructure.config.settings import CONFIG_PATH_VARIABLE, ConfigurationError, Settings, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("KARTOTEKA__") or key == CONFIG_PATH_VARIABLE:
            monkeypatch.delenv(key)


def test_defaults_name_the_reference_checkpoints_and_notebook_settings() -> None:
    s = load_settings()
    assert s.recognition.detector.model == "Daniil-Domino/yolo11x-dialectic"
    assert s.recognition.recognizer.model == "Daniil-Domino/trocr-base-ru-dialectic-stackmix"
    assert s.recognition.detector.conf == 0.3
    assert (s.recognition.detector.input_width, s.recognition.detector.input_height) == (1280, 900)
    assert s.recognition.layout.line_overlap_threshold == 0.6
    assert s.recognition.recognizer.generation.overrides() == {}


def test_yaml_file_is_read_and_environment_overrides_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "k.yaml"
    config.write_text(
        "recognition:\n  detector:\n    conf: 0.4\n    imgsz: 1024\n  recognizer:\n    backend: onnx\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__DETECTOR__CONF", "0.55")
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__RECOGNIZER__GENERATION__NUM_BEAMS", "4")
    s = load_settings(config)
    assert s.recognition.detector.conf == 0.55  # environment wins
    assert s.recognition.detector.imgsz == 1024  # file value kept where no variable is set
    assert s.recognition.recognizer.backend == "onnx"
    assert s.recognition.recognizer.generation.overrides() == {"num_beams": 4}


def test_config_path_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "k.yaml"
    config.write_text("inference:\n  device: cpu\n", encoding="utf-8")
    monkeypatch.setenv(CONFIG_PATH_VARIABLE, str(config))
    assert load_settings().inference.device == "cpu"


def test_null_from_environment_disables_resizing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KARTOTEKA__RECOGNITION__DETECTOR__INPUT_WIDTH", "null")
    assert load_settings().recognition.detector.input_width is None


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("KARTOTEKA__RECOGNITION__DETECTOR__CONF", "1.5", "recognition.detector.conf"),
        ("KARTOTEKA__RECOGNITION__RECOGNIZER__BACKEND", "tensorflow", "recognition.recognizer.backend"),
        ("KARTOTEKA__INFERENCE__DEVICE", "tpu", "inference.device"),
        ("KARTOTEKA__RECOGNITION__RECOGNIZER__BATCH_SIZE", "many", "recognition.recognizer.batch_size"),
        ("KARTOTEKA__RECOGNITION__DETECTOR__CONFIDENCE", "0.3", "recognition.detector.confidence"),
    ],
)
def test_bad_value_names_the_setting_and_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert named in str(err.value)
    assert variable in str(err.value)


def test_bad_yaml_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("recognition: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_settings(broken)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_settings(tmp_path / "absent.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="mapping"):
        load_settings(listed)


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "k.yaml"
    config.write_text("recognition:\n  detectr:\n    conf: 0.4\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"recognition\.detectr"):
        load_settings(config)


def test_forwarded_allow_ips_takes_addresses_and_networks_only() -> None:
    given = Settings.model_validate({"api": {"forwarded_allow_ips": " 10.0.0.1, 10.1.0.0/16 ,*"}})
    assert given.api.forwarded_allow_ips == "10.0.0.1,10.1.0.0/16,*"
    assert Settings().api.forwarded_allow_ips == ""  # no proxy is trusted unless configured
    with pytest.raises(ValidationError, match="not an IP address"):
        Settings.model_validate({"api": {"forwarded_allow_ips": "proxy.example"}})
