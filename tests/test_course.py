"""superinfo_lib.course: what "auto" means, and a clear error for a profile that does not exist."""

import pytest

from superinfo_lib.course import resolve_profile

PROFILES = {"smoke": {"n": 1}, "gpu": {"n": 2}, "full": {"n": 3}}


def test_auto_is_smoke_on_a_cpu_and_the_gpu_size_on_a_gpu():
    assert resolve_profile("auto", PROFILES, device="cpu") == ("smoke", {"n": 1})
    assert resolve_profile("auto", PROFILES, device="cuda") == ("gpu", {"n": 2})
    without_gpu_size = {k: v for k, v in PROFILES.items() if k != "gpu"}
    assert resolve_profile("auto", without_gpu_size, device="cuda") == ("full", {"n": 3})


def test_a_named_profile_is_taken_as_it_is():
    for name in PROFILES:
        assert resolve_profile(name, PROFILES, device="cpu") == (name, PROFILES[name])


def test_an_unknown_profile_is_refused_with_the_choices():
    expected = r"profile must be one of \['full', 'gpu', 'smoke'\] or 'auto', got 'fast'"
    with pytest.raises(ValueError, match=expected):
        resolve_profile("fast", PROFILES)
