"""SampleRNN model and training: a debug-size model learns tones, resume is exact, files and errors are sound."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from composer.errors import ComposerError
from composer.media.audio import write_wav
from composer.models.samplernn.model import (
    PRESETS,
    SampleRNN,
    SampleRNNConfig,
    add_top_tier,
    dequantize,
    load,
    param_count,
    quantize,
    save,
)
from composer.models.samplernn.train import TRAIN_SETTINGS, load_audio_data, train_audio
from composer.types import Audio

RATE = 16000
DEBUG = PRESETS["debug"]
DEBUG_CHUNK = TRAIN_SETTINGS["debug"].chunk_len(DEBUG)


def _wav(path: Path, samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> Path:
    write_wav(path, Audio(np.asarray(samples, dtype=np.float32).reshape(-1, 1), rate), subtype)
    return path


def _tones(seed: int, seconds: float = 1.0) -> np.ndarray:
    """Notes drawn from the same three pitches, random phase and level: held-out files share the pitches."""
    rng = np.random.default_rng(seed)
    t = np.arange(2000) / RATE
    notes = [
        rng.uniform(0.3, 0.8) * np.sin(2 * np.pi * rng.choice([220.0, 330.0, 440.0]) * t + rng.uniform(0, 6.3))
        for _ in range(int(seconds * RATE) // 2000)
    ]
    return np.concatenate(notes)


@pytest.fixture(scope="module")
def tone_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tones")
    for i in range(4):
        _wav(folder / f"tones{i}.wav", _tones(i))
    return folder


# ----------------------------------------------------------------------------------------------- model


@pytest.mark.parametrize("kind", ["mu-law", "linear"])
def test_quantization_round_trip(kind):
    levels = torch.arange(256)
    assert torch.equal(quantize(dequantize(levels, 256, kind), 256, kind), levels)
    x = torch.linspace(-1, 1, 4001)
    q = quantize(x, 256, kind)
    assert q.min() == 0 and q.max() == 255 and bool((q[1:] >= q[:-1]).all())
    err = (dequantize(q, 256, kind) - x).abs()
    if kind == "mu-law":
        # finest steps near zero, where quiet audio lives
        assert err[x.abs() < 0.01].max() < 0.0005 and err.max() < 0.035
    else:
        assert err.max() <= 1.0 / 255 + 1e-6


def test_preset_sizes():
    assert param_count(SampleRNN(PRESETS["debug"])) < 100_000
    assert 3_500_000 < param_count(SampleRNN(PRESETS["demo"])) < 4_500_000
    dadabots = PRESETS["dadabots"]
    assert (dadabots.tiers, dadabots.frame_sizes, dadabots.dims, dadabots.rnn, dadabots.layers, dadabots.embedding) == (
        2,
        (16,),
        (1024,),
        "lstm",
        5,
        256,
    )


def test_config_json_round_trip_and_validation():
    for config in PRESETS.values():
        assert SampleRNNConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError):
        SampleRNNConfig(frame_sizes=(16, 5), dims=(8, 8))
    with pytest.raises(ValueError):
        SampleRNNConfig(rnn="transformer")
    assert SampleRNNConfig(frame_sizes=(64, 16, 4), dims=(8, 8, 8)).tiers == 4
    with pytest.raises(ValueError, match="2 to 4 tiers"):
        SampleRNNConfig(frame_sizes=(128, 64, 16, 4), dims=(8, 8, 8, 8))


def test_a_grown_top_tier_starts_from_the_same_predictions_and_then_learns():
    torch.manual_seed(0)
    small = SampleRNN(DEBUG).eval()
    grown = add_top_tier(small, 32, 16).eval()
    assert grown.config.frame_sizes == (32, 8, 2) and grown.config.tiers == 4
    x = torch.randint(0, 256, (2, 32 + 4 * 32))
    # the grown model looks back further: the small one sees the same last 8 samples before the first prediction
    torch.testing.assert_close(grown(x), small(x[:, 32 - 8 :]), rtol=0, atol=0)
    # its new tier's conditioning starts at zero but is trainable: one step moves the predictions
    grown.train()
    opt = torch.optim.Adam(grown.parameters(), lr=1e-2)
    loss = torch.nn.functional.cross_entropy(grown(x).reshape(-1, 256), x[:, 32:].reshape(-1))
    loss.backward()
    assert grown.tiers[0].upsample.weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(grown.eval()(x), small(x[:, 32 - 8 :]))
    with pytest.raises(ValueError, match="divide"):
        add_top_tier(small, 12, 16)


def test_forward_shape_and_state_carry():
    torch.manual_seed(0)
    model = SampleRNN(DEBUG).eval()
    x = torch.randint(0, 256, (2, 8 + 64))
    whole, _ = model(x, return_state=True)
    assert whole.shape == (2, 64, 256)
    # two halves with the state carried equal one pass over the whole chunk
    first, state = model(x[:, : 8 + 32], return_state=True)
    second = model(x[:, 32:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "config",
    [
        DEBUG,
        dataclasses.replace(
            DEBUG, frame_sizes=(4,), dims=(24,), rnn="lstm", layers=2, skip=False, quantization="linear"
        ),
    ],
)
def test_save_load_gives_identical_logits(tmp_path, config):
    torch.manual_seed(1)
    model = SampleRNN(config).eval()
    x = torch.randint(0, 256, (3, config.lookback + 32))
    save(model, tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert loaded.config == config
    assert torch.equal(model(x), loaded(x))
    save(model, tmp_path / "half", half=True)  # shipped weights: half the bytes, loaded back as float32
    small = (tmp_path / "half" / "model.safetensors").stat().st_size
    assert small < 0.55 * (tmp_path / "m" / "model.safetensors").stat().st_size
    halved = load(tmp_path / "half")
    assert all(p.dtype == torch.float32 for p in halved.parameters())
    torch.testing.assert_close(halved(x), model(x), atol=2e-2, rtol=0)


def test_mismatched_config_names_the_file(tmp_path):
    save(SampleRNN(DEBUG), tmp_path)
    wider = dataclasses.replace(DEBUG, dims=(48, 32))
    (tmp_path / "config.json").write_text(wider.to_json(), encoding="utf-8")
    with pytest.raises(ComposerError, match=r"model\.safetensors.*do not match config\.json"):
        load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"rnn": "bogus"}), encoding="utf-8")
    with pytest.raises(ComposerError, match=r"config\.json"):
        load(tmp_path)
    (tmp_path / "config.json").write_text(DEBUG.to_json(), encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ComposerError, match=r"model\.safetensors.*corrupt"):
        load(tmp_path)


# ----------------------------------------------------------------------------------------------- data


def test_single_file_holds_out_its_end(tmp_path):
    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal(DEBUG_CHUNK * 12) + 0.05  # off-centre and quiet: normalised per file
    _wav(tmp_path / "a.wav", x, subtype="FLOAT")
    data = load_audio_data(tmp_path, DEBUG, TRAIN_SETTINGS["debug"])
    assert len(data.val) >= 1 and len(data.train) + len(data.val) == 12
    # the chunks, train then validation, are the file's own time line: disjoint, val at the end
    written = np.asarray(torch.cat([data.train, data.val]).flatten().long())
    y = x - x.mean()
    expected = np.asarray(quantize(torch.from_numpy((y / np.abs(y).max()).astype(np.float32))))[: len(written)]
    # float32 vs float64 normalisation may round a level differently, never more than one step
    assert np.abs(written - expected).max() <= 1 and np.mean(written == expected) > 0.98
    levels = dequantize(torch.cat([data.train, data.val]).long())
    assert abs(float(levels.mean())) < 0.01 and float(levels.abs().max()) > 0.95


def test_split_by_file_and_silent_chunks_dropped(tmp_path):
    for i in range(3):
        _wav(tmp_path / f"s{i}.wav", np.concatenate([_tones(i, 0.5), np.zeros(RATE // 2)]))
    data = load_audio_data(tmp_path, DEBUG, TRAIN_SETTINGS["debug"], seed=0)
    assert len(data.val_files) == 1 and not set(data.val_files) & set(data.train_files)
    per_file = RATE // DEBUG_CHUNK
    # the silent second half of each file is dropped
    assert len(data.train) + len(data.val) <= 3 * (per_file // 2 + 1)


@pytest.mark.parametrize("case", ["no files", "empty", "not audio", "silent", "short"])
def test_bad_input_names_the_file(tmp_path, case):
    audio = tmp_path / "audio"
    audio.mkdir()
    bad = audio / "bad.wav"
    if case == "empty":
        bad.write_bytes(b"")
    elif case == "not audio":
        bad.write_text("hello", encoding="utf-8")
    elif case == "silent":
        _wav(bad, np.zeros(RATE * 2))
    elif case == "short":
        _wav(bad, _tones(0, 0.125)[: DEBUG_CHUNK // 2])
    with pytest.raises(ComposerError) as info:
        train_audio(audio, tmp_path / "out", preset="debug", steps=5)
    message = str(info.value)
    assert "\n" not in message
    assert str(audio if case == "no files" else bad) in message
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------------------- training


def test_debug_model_learns_tones(tone_dir, tmp_path):
    result = train_audio(tone_dir, tmp_path / "out", preset="debug", steps=300, eval_every=150, seed=0)
    assert result.initial_val_bits_per_sample > 7.5  # ~uniform over 256 levels at the start
    assert result.val_bits_per_sample < 4.5, result.reports
    assert result.best_val_bits_per_sample <= result.val_bits_per_sample
    assert [r.step for r in result.reports] == [150, 300]
    loaded = load(tmp_path / "out")
    assert loaded.config == DEBUG and load(tmp_path / "out" / "best").config == DEBUG
    # the loss curve: held-out line (red) falls from top left to bottom right of the plot
    from PIL import Image

    curve = np.asarray(Image.open(tmp_path / "out" / "loss.png").convert("RGB")).astype(int)
    red = (curve[..., 0] > 180) & (curve[..., 1] < 60) & (curve[..., 2] < 60)
    ys, xs = np.nonzero(red[40:-60, 80:-300])  # inside the axes, left of the legend
    left, right = ys[xs < xs.min() + 20].mean(), ys[xs > xs.max() - 20].mean()
    assert left < right - 100  # image rows grow downwards: the loss fell


@pytest.mark.parametrize("preset", ["debug", "debug-lstm"])
def test_resume_continues_exactly(tone_dir, tmp_path, monkeypatch, preset):
    # an LSTM's state is (h, c) per layer: a second shape of carried state to save and restore
    lstm = dataclasses.replace(DEBUG, frame_sizes=(4,), dims=(24,), rnn="lstm", layers=2)
    monkeypatch.setitem(PRESETS, "debug-lstm", lstm)
    monkeypatch.setitem(TRAIN_SETTINGS, "debug-lstm", TRAIN_SETTINGS["debug"])
    # 22 steps stop mid-chunk (4 sub-sequences a chunk): the carried RNN state and batch must survive
    whole = train_audio(tone_dir, tmp_path / "a", preset=preset, steps=44, eval_every=11, seed=3)
    first = train_audio(tone_dir, tmp_path / "b", preset=preset, steps=22, eval_every=11, seed=3)
    with pytest.raises(ComposerError, match="resume"):
        train_audio(tone_dir, tmp_path / "b", preset=preset, steps=44, seed=3)
    rest = train_audio(tone_dir, tmp_path / "b", steps=44, eval_every=11, resume=True)
    assert first.step == 22 and rest.step == 44
    assert [r.step for r in rest.reports] == [33, 44]
    for a, b in zip(whole.reports[2:], rest.reports):
        assert a.train_bits_per_sample == b.train_bits_per_sample
        assert a.val_bits_per_sample == b.val_bits_per_sample
    wa, wb = load(tmp_path / "a").state_dict(), load(tmp_path / "b").state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(ComposerError, match="already trained 44"):
        train_audio(tone_dir, tmp_path / "b", steps=44, resume=True)
    with pytest.raises(ComposerError, match="nothing to resume"):
        train_audio(tone_dir, tmp_path / "c", steps=44, resume=True)


def test_learning_rate_halves_on_its_half_life_and_a_resumed_run_follows_the_same_curve(tone_dir, tmp_path):
    settings = dataclasses.replace(TRAIN_SETTINGS["debug"], lr=2e-3, lr_half_life=10)
    assert [settings.lr_at(s) for s in (0, 10, 20)] == pytest.approx([2e-3, 1e-3, 5e-4])
    assert settings.lr_at(10**6) == pytest.approx(2e-3 / 16)  # it stops at a floor
    options = {"preset": "debug", "eval_every": 11, "seed": 3, "lr": 2e-3, "lr_half_life": 10}
    whole = train_audio(tone_dir, tmp_path / "a", steps=44, **options)
    train_audio(tone_dir, tmp_path / "b", steps=22, **options)
    # the resumed run takes its rate and half-life from its state, not the preset's constant 3e-3
    rest = train_audio(tone_dir, tmp_path / "b", steps=44, eval_every=11, resume=True)
    assert [r.val_bits_per_sample for r in whole.reports[2:]] == [r.val_bits_per_sample for r in rest.reports]
    wa, wb = load(tmp_path / "a").state_dict(), load(tmp_path / "b").state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    state = json.loads((tmp_path / "b" / "training_state" / "state.json").read_text())
    assert (state["lr"], state["lr_half_life"]) == (2e-3, 10)
    # and the schedule is what trained it: the same rate held constant ends elsewhere
    train_audio(tone_dir, tmp_path / "c", preset="debug", steps=44, eval_every=11, seed=3, lr=2e-3)
    wc = load(tmp_path / "c").state_dict()
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    for bad, match in (({"lr": 0.0}, "--lr must be above 0"), ({"lr_half_life": 0}, "--lr-half-life must be")):
        with pytest.raises(ComposerError, match=match):
            train_audio(tone_dir, tmp_path / "d", preset="debug", steps=2, **bad)
    assert not (tmp_path / "d").exists()


def test_debug_preset_trains_on_one_thread_unless_told_and_puts_torch_back(tone_dir, tmp_path):
    # a debug step is too small to split: a second thread only spin-waits (10x slower on a busy 2-core machine)
    before = torch.get_num_threads()
    seen = []

    def threads(r) -> None:
        seen.append(torch.get_num_threads())

    train_audio(tone_dir, tmp_path / "a", preset="debug", steps=2, eval_every=1, report=threads)
    train_audio(tone_dir, tmp_path / "a", steps=3, resume=True, report=threads)
    train_audio(tone_dir, tmp_path / "b", preset="debug", steps=1, threads=3, report=threads)
    assert seen == [1, 1, 1, 3]  # a resumed run takes its preset's count from its state, as it does the preset
    assert torch.get_num_threads() == before


def test_keep_last_checkpoints_and_init_from_weights(tone_dir, tmp_path, monkeypatch):
    a = train_audio(tone_dir, tmp_path / "a", preset="debug", steps=60, eval_every=20, keep=2, seed=1)
    kept = sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir())
    assert kept == ["step-0000040", "step-0000060"]  # step 20's weights were pruned
    last, final = load(tmp_path / "a" / "checkpoints" / kept[-1]).state_dict(), load(tmp_path / "a").state_dict()
    earlier = load(tmp_path / "a" / "checkpoints" / kept[0]).state_dict()
    assert all(torch.equal(last[k], final[k]) for k in final)
    assert not all(torch.equal(earlier[k], final[k]) for k in final)

    # a new run from a's weights starts where a ended (same held-out split), not from chance
    b = train_audio(
        tone_dir, tmp_path / "b", preset="debug", steps=20, eval_every=20, keep=0, seed=1, init=tmp_path / "a"
    )
    assert b.initial_val_bits_per_sample == pytest.approx(a.val_bits_per_sample, abs=1e-4)
    assert b.initial_val_bits_per_sample < 7.0 and not (tmp_path / "b" / "checkpoints").exists()
    assert json.loads((tmp_path / "b" / "training_state" / "state.json").read_text())["init"] == str(tmp_path / "a")

    monkeypatch.setitem(PRESETS, "debug-lstm", dataclasses.replace(DEBUG, rnn="lstm"))
    monkeypatch.setitem(TRAIN_SETTINGS, "debug-lstm", TRAIN_SETTINGS["debug"])
    with pytest.raises(ComposerError, match=r"a/config.json: config differs from preset 'debug-lstm'"):
        train_audio(tone_dir, tmp_path / "c", preset="debug-lstm", steps=20, init=tmp_path / "a")
    with pytest.raises(ComposerError, match="cannot be combined with --resume"):
        train_audio(tone_dir, tmp_path / "b", steps=40, resume=True, init=tmp_path / "a")
    assert not (tmp_path / "c").exists()


def test_a_run_grows_its_init_by_a_top_tier_at_its_own_sequence_length_and_resumes_as_it(tone_dir, tmp_path):
    a = train_audio(tone_dir, tmp_path / "a", preset="debug", steps=30, eval_every=30, seed=1)
    grown = {"preset": "debug", "eval_every": 10, "seed": 1, "init": tmp_path / "a", "add_tier": 32}
    options = grown | {"seq_len": 64, "batch_size": 8}
    whole = train_audio(tone_dir, tmp_path / "b", steps=20, **options)
    # the new tier starts silent: the grown model's held-out loss is the one a ended on (to within the chunks'
    # longer look-back; an untrained model scores 8 bits)
    assert whole.initial_val_bits_per_sample == pytest.approx(a.val_bits_per_sample, abs=0.01)
    assert load(tmp_path / "b").config.frame_sizes == (32, 8, 2)
    state = json.loads((tmp_path / "b" / "training_state" / "state.json").read_text())
    assert (state["added_tiers"], state["seq_len"], state["batch_size"]) == ([32], 64, 8)

    # resumed, the run is still the grown model at its own sequence length and batch: it ends where one run did
    train_audio(tone_dir, tmp_path / "c", steps=10, **options)
    rest = train_audio(tone_dir, tmp_path / "c", steps=20, eval_every=10, resume=True)
    assert whole.reports[-1].val_bits_per_sample == rest.reports[-1].val_bits_per_sample
    wb, wc = load(tmp_path / "b").state_dict(), load(tmp_path / "c").state_dict()
    assert all(torch.equal(wb[k], wc[k]) for k in wb)
    # and the sequence length is what trained it: the preset's 128 ends elsewhere
    train_audio(tone_dir, tmp_path / "d", steps=20, **grown | {"batch_size": 8})
    wd = load(tmp_path / "d").state_dict()
    assert not all(torch.equal(wb[k], wd[k]) for k in wb)

    for bad, match in (
        ({"seq_len": 48}, r"--seq-len 48: must be a multiple of the model's top frame \(32 samples\)"),
        ({"add_tier": 12}, "--add-tier 12: "),
        ({"init": None}, "--add-tier grows a trained model"),
        ({"batch_size": 0}, "--batch-size must be at least 1"),
    ):
        with pytest.raises(ComposerError, match=match):
            train_audio(tone_dir, tmp_path / "e", steps=2, **grown | bad)
    assert not (tmp_path / "e").exists()
