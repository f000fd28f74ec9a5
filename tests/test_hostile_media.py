"""Hostile media: every decoder of client files checks headers against limits before it
allocates (issue 16, the probe's cases 1–2 as regressions), plus property-based fuzzing.

The cases are the ones an adversarial probe of the served stack found: a 244-byte WAV claiming
2^30 Hz that cost 104 s of CPU and 7.8 GB, a 1 Hz WAV that became 32 M samples, a header whose
``data`` chunk claims far more than the file holds, a 0-byte ``.npz``. Each must now be an
InvalidInput naming the field, in milliseconds and without a large allocation.
"""

from __future__ import annotations

import io
import resource
import struct
import zipfile

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dyad.errors import ConfigError, InvalidInput
from dyad.features_io import load_features
from dyad.media import load_audio, read_wav, resample, wav_bytes
from dyad.media.arrays import load_npy, load_npz
from dyad.media.probe import MediaLimits, is_riff_wave, probe_audio, probe_audio_file
from dyad.motion_io import load_motion, motion_bytes
from dyad.rigs import get_rig


def wav_header(
    rate: int, *, channels: int = 1, bits: int = 16, data_size: int, code: int = 1
) -> bytes:
    """A canonical 44-byte RIFF/WAVE header whose fields say whatever the caller wants."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", code, channels, rate, rate * block, block, bits)
    riff_size = min(0xFFFFFFFF, 36 + data_size)
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data_size)
    )


def crafted_wav(rate: int, n_bytes: int = 200, **kw) -> bytes:
    """Header + ``n_bytes`` of samples whose header claims exactly those bytes."""
    return wav_header(rate, data_size=n_bytes, **kw) + bytes(n_bytes)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("rate", [2**30, 2**31 - 1, 1, 4000, 400_000])
def test_absurd_sample_rates_are_rejected_from_the_header(rate: int):
    data = crafted_wav(rate)
    assert len(data) == 244
    before = peak_rss_mb()
    with pytest.raises(InvalidInput) as e:
        load_audio(data, field="tracks[0].artifact")
    assert peak_rss_mb() - before < 50  # it was 7.8 GB at 2^30 Hz
    assert e.value.field == "tracks[0].artifact"
    assert f"sample rate {rate} Hz is outside 8000–192000 Hz" in e.value.reason


def test_a_data_chunk_claiming_more_than_the_file_holds_is_truncated():
    data = wav_header(16000, data_size=1_000_000) + bytes(256)
    with pytest.raises(InvalidInput, match="truncated WAV: the header declares 1000000 bytes"):
        read_wav(data)


def test_streaming_placeholders_mean_to_the_end_of_the_file():
    # espeak-ng --stdout leaves 0x7FFFF000; ffmpeg writing to a pipe 0xFFFFFFFF.
    samples = (np.sin(np.arange(3200) / 5) * 8000).astype("<i2").tobytes()
    for placeholder in (0x7FFFF000, 0xFFFFFFFF):
        x, rate = read_wav(wav_header(16000, data_size=placeholder) + samples)
        assert (rate, x.shape) == (16000, (3200, 1))


def test_a_header_claiming_4_gb_over_300_bytes_is_too_short_to_animate():
    data = wav_header(16000, data_size=4_000_000_000) + bytes(256)
    assert len(data) == 300
    with pytest.raises(InvalidInput, match=r"8\.0 ms of audio; the shortest accepted is 40 ms"):
        load_audio(data)


def test_duration_and_decoded_size_are_checked_before_decoding():
    lim = MediaLimits(max_audio_s=1.0)
    two_s = wav_bytes(np.zeros(32000, np.float32), 16000)
    with pytest.raises(InvalidInput, match=r"2\.0 s of audio; the limit is 1 s"):
        read_wav(two_s, limits=lim)
    small = MediaLimits(max_decoded_bytes=100_000)  # 8 channels x 1 s x 4 B = 512 kB
    eight = wav_bytes(np.zeros((16000, 8), np.float32), 16000)
    with pytest.raises(InvalidInput, match="decodes to 512000 bytes; the limit is 100000"):
        read_wav(eight, limits=small)
    with pytest.raises(InvalidInput, match="9 channels; expected 1–8"):
        read_wav(wav_bytes(np.zeros((1600, 9), np.float32), 16000))


def test_formats_without_a_trustworthy_length_are_cut_off_while_decoding():
    # A FLAC header may leave the length unknown: the decode itself stops at the limit.
    buf = io.BytesIO()
    sf.write(buf, np.zeros(48000, np.float32), 16000, format="FLAC")
    with pytest.raises(InvalidInput, match=r"3\.0 s of audio; the limit is 2 s"):
        read_wav(buf.getvalue(), limits=MediaLimits(max_audio_s=2.0))
    x, _ = read_wav(buf.getvalue(), limits=MediaLimits(max_audio_s=3.0))
    assert x.shape == (48000, 1)


def test_the_file_size_limit_applies_to_paths_before_reading(tmp_path):
    path = tmp_path / "big.wav"
    path.write_bytes(wav_bytes(np.zeros(16000, np.float32), 16000))
    with pytest.raises(InvalidInput, match="32044 bytes; the limit is 1000"):
        read_wav(path, limits=MediaLimits(max_audio_bytes=1000))


def test_probe_reads_a_wav_from_its_first_bytes_only():
    full = wav_bytes(np.zeros(160000, np.float32), 16000)  # 10 s
    head = full[:4096]
    assert is_riff_wave(head) and not is_riff_wave(b"fLaC" + bytes(12))
    h = probe_audio(head, field="audio.track_a", total_size=len(full))
    assert (h.rate, h.channels, h.frames, h.seconds) == (16000, 1, 160000, 10.0)
    with pytest.raises(InvalidInput, match="truncated WAV"):
        probe_audio(head, field="audio.track_a", total_size=len(full) - 1000)
    with pytest.raises(ValueError, match="whole file"):
        probe_audio(b"fLaC" + bytes(100), field="x", total_size=10_000)


def test_media_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DYAD_MEDIA_MAX_SAMPLE_RATE", "48000")
    assert MediaLimits.from_env().max_sample_rate == 48000
    with pytest.raises(InvalidInput, match="outside 8000–48000 Hz"):
        read_wav(crafted_wav(96000, 19200))
    monkeypatch.setenv("DYAD_MEDIA_MIN_SAMPLE_RATE", "96000")
    with pytest.raises(ConfigError, match="DYAD_MEDIA_MIN_SAMPLE_RATE"):
        MediaLimits.from_env()


# --- resampling: the rate range bounds the resampler's filter --------------------------------


def test_the_most_awkward_accepted_rate_resamples_within_bounded_memory():
    # 191999 and 16000 are coprime: the exact polyphase filter has ~3.8 M taps (30 MB).
    x = np.zeros(191999 * 2, np.float32)
    before = peak_rss_mb()
    assert resample(x, 191999, 16000).shape == (32000,)
    assert peak_rss_mb() - before < 200


# --- .npy / .npz -----------------------------------------------------------------------------


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def lying_npy(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """An .npy whose header claims ``shape`` of ``descr`` over 16 bytes of data."""
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + bytes(16)


def test_zero_byte_and_junk_motion_files_are_invalid_input():
    for data, why in ((b"", "empty file"), (b"PK\x03\x04junk", "not a readable .npz")):
        with pytest.raises(InvalidInput, match=why) as e:
            load_motion(data, field="track_a")
        assert e.value.field == "track_a"


def test_array_headers_are_checked_before_allocation():
    before = peak_rss_mb()
    with pytest.raises(InvalidInput, match=r"shape \[1000000, 1000000\] takes 4000000000000"):
        load_npy(lying_npy((1_000_000, 1_000_000)), field="features_a")
    with pytest.raises(InvalidInput, match="truncated array: 16 of 400 bytes"):
        load_npy(lying_npy((10, 10)), field="features_a")
    assert peak_rss_mb() - before < 50
    with pytest.raises(InvalidInput, match="object arrays are not accepted"):
        load_npy(lying_npy((1,), descr="|O"), field="f")


def test_npz_members_are_bounded_one_by_one_and_in_total():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in ("a", "b", "c"):
            z.writestr(f"{name}.npy", npy(np.zeros(1000, np.float32)))  # 4000 bytes each
    lim = MediaLimits(max_array_bytes=10_000)
    with pytest.raises(InvalidInput, match=r"^m\.c: an array of shape \[1000\] takes 4000"):
        load_npz(buf.getvalue(), field="m", limits=lim)
    assert set(load_npz(buf.getvalue(), field="m")) == {"a", "b", "c"}


def test_a_zip_bomb_member_is_refused_from_its_directory_entry():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("motion.npy", npy(np.zeros((4000, 4000), np.float32)))  # 64 MB → ~60 kB
    data = buf.getvalue()
    assert len(data) < 200_000
    with pytest.raises(InvalidInput, match="members claim 64000128 bytes"):
        load_npz(data, field="motion", limits=MediaLimits(max_array_bytes=10_000_000))


def test_motion_files_with_malformed_fields_name_them():
    rig = get_rig("arkit55")
    good = dict(
        np.load(io.BytesIO(motion_bytes(np.zeros((10, rig.num_channels), np.float32), rig)))
    )
    for key, value, field in (
        ("fps", np.array([25, 25]), "m.fps"),
        ("fps", np.array(0), "m.fps"),
        ("rig", np.array(["arkit55", "x"]), "m.rig"),
    ):
        buf = io.BytesIO()
        np.savez(buf, **{**good, key: value})
        with pytest.raises(InvalidInput) as e:
            load_motion(buf.getvalue(), field="m")
        assert e.value.field == field


def test_feature_files_go_through_the_same_checks():
    with pytest.raises(InvalidInput, match="features_a: empty file"):
        load_features(b"", field="features_a")
    with pytest.raises(InvalidInput, match=r"^features_a: an array of shape"):
        load_features(lying_npy((10**9, 10**3)), field="features_a")


# --- property-based: whatever the bytes, a decoder answers InvalidInput or a valid result -----

_VALID_WAV = wav_bytes(
    (0.3 * np.sin(np.arange(8000) / 7)).astype(np.float32), 16000, subtype="PCM_16"
)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([8000, 16000, 44100, 192000])),
    channels=st.integers(0, 65535),
    bits=st.sampled_from([0, 1, 8, 16, 24, 32, 64, 65535]),
    code=st.sampled_from([0, 1, 2, 3, 6, 7, 0x55, 0xFFFE, 0xFFFF]),
    data_size=st.one_of(st.integers(0, 2**32 - 1), st.just(16000)),
    cut=st.integers(0, len(_VALID_WAV)),
)
def test_any_wav_header_gives_audio_or_invalid_input(rate, channels, bits, code, data_size, cut):
    header = struct.pack("<HHIIHH", code, channels, rate, 0, channels * bits // 8 & 0xFFFF, bits)
    data = _VALID_WAV[:20] + header + _VALID_WAV[36:40] + struct.pack("<I", data_size)
    data = (data + _VALID_WAV[44:])[: max(cut, 12)]
    try:
        x = load_audio(data, field="audio")
    except InvalidInput as e:
        assert e.field == "audio"
        return
    assert x.dtype == np.float32 and x.ndim == 1 and len(x) > 0
    assert np.isfinite(x).all() and np.abs(x).max() <= 1.0
    assert len(x) <= 600 * 16000


@settings(max_examples=300, deadline=2000)
@given(st.binary(max_size=2048))
def test_any_bytes_give_audio_or_invalid_input(data: bytes):
    try:
        load_audio(data, field="audio")
    except InvalidInput as e:
        assert e.field == "audio"


@settings(max_examples=300, deadline=2000)
@given(data=st.binary(max_size=4096), flip=st.integers(0, 4095), byte=st.integers(0, 255))
def test_any_motion_bytes_give_a_clip_or_invalid_input(data: bytes, flip: int, byte: int):
    good = bytearray(motion_bytes(np.zeros((4, get_rig("arkit55").num_channels)), "arkit55"))
    good[flip % len(good)] = byte  # one corrupted byte of a real file, or random bytes
    for candidate in (bytes(good), data):
        try:
            clip = load_motion(candidate, field="motion")
        except InvalidInput as e:
            assert e.field.startswith("motion")
        else:
            assert clip.motion.ndim == 2 and np.isfinite(clip.motion).all()


def test_probe_audio_file_reads_headers_from_a_file_without_loading_it(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, np.zeros(32000, np.float32), 16000, format="FLAC")
    path = tmp_path / "a.flac"
    path.write_bytes(buf.getvalue())
    with open(path, "rb") as f:
        h = probe_audio_file(f, field="audio.track_a", total_size=path.stat().st_size)
    assert (h.rate, h.channels, h.frames) == (16000, 1, 32000)
    with open(path, "rb") as f, pytest.raises(InvalidInput, match="the limit is 1 s"):
        probe_audio_file(
            f, field="x", total_size=path.stat().st_size, limits=MediaLimits(max_audio_s=1.0)
        )
    wav = tmp_path / "a.wav"
    wav.write_bytes(crafted_wav(2**30))
    with open(wav, "rb") as f, pytest.raises(InvalidInput, match="outside 8000–192000 Hz"):
        probe_audio_file(f, field="x", total_size=244)
