"""shared.platforms: the platform and ABI categories of wheel tags."""

from __future__ import annotations

import pytest
from packaging.utils import parse_wheel_filename

from shared.platforms import NULL, OTHER, SDIST, abi_category, free_threaded, platform_category


@pytest.mark.parametrize(
    ("tag", "category"),
    [
        ("any", "any"),
        ("manylinux1_x86_64", "manylinux x86_64"),
        ("manylinux2010_x86_64", "manylinux x86_64"),
        ("manylinux2014_x86_64", "manylinux x86_64"),
        ("manylinux_2_17_x86_64", "manylinux x86_64"),
        ("manylinux_2_17_x86_64.manylinux2014_x86_64", "manylinux x86_64"),
        ("manylinux_2_28_aarch64", "manylinux aarch64"),
        ("manylinux2014_i686.manylinux_2_17_i686", "manylinux i686"),
        ("manylinux_2_17_ppc64le.manylinux2014_ppc64le", "manylinux ppc64le"),
        ("musllinux_1_1_x86_64", "musllinux x86_64"),
        ("musllinux_1_2_aarch64", "musllinux aarch64"),
        ("linux_x86_64", "linux x86_64"),
        ("macosx_10_9_x86_64", "macOS x86_64"),
        ("macosx_11_0_arm64", "macOS arm64"),
        ("macosx_10_9_universal2", "macOS universal2"),
        ("macosx_10_9_x86_64.macosx_11_0_arm64", "macOS arm64 + macOS x86_64"),
        ("win_amd64", "Windows amd64"),
        ("win32", "Windows x86"),
        ("win_arm64", "Windows arm64"),
        ("ios_13_0_arm64_iphoneos", "iOS arm64"),
        ("android_21_arm64_v8a", "Android arm64_v8a"),
        ("pyodide_2024_0_wasm32", "Pyodide wasm32"),
        ("emscripten_3_1_45_wasm32", "Emscripten wasm32"),
        ("MANYLINUX2014_X86_64", "manylinux x86_64"),  # tags are lower case; a shout is read as one
        ("freebsd_14_0_release_amd64", OTHER),  # a platform the rule does not name
        ("manylinux_2_17_x86_64.solaris_2_11", OTHER),  # a set with an unknown member
        ("", OTHER),
        ("a-b", OTHER),
        ("x" * 500, OTHER),
        (SDIST, SDIST),
        (NULL, NULL),
        (OTHER, OTHER),
    ],
)
def test_platform_categories(tag: str, category: str) -> None:
    assert platform_category(tag) == category


@pytest.mark.parametrize(
    ("tag", "category"),
    [
        ("none", "none"),
        ("abi3", "abi3"),
        ("cp312", "cp312"),
        ("cp313t", "cp313t"),
        ("CP313T", "cp313t"),
        ("cp37m", "cp37m"),
        ("pypy310_pp73", "pypy310_pp73"),
        ("cp310.cp39", "cp310.cp39"),
        ("cp39.cp310", "cp310.cp39"),  # a compressed set, sorted: one category however written
        ("", OTHER),
        ("cp3 12", OTHER),
        ("cp312;drop", OTHER),
        ("x" * 40, OTHER),  # longer than the events carry
        (SDIST, SDIST),
        (NULL, NULL),
        (OTHER, OTHER),
    ],
)
def test_abi_categories(tag: str, category: str) -> None:
    assert abi_category(tag) == category


def test_free_threaded_abis() -> None:
    assert free_threaded("cp313t") and free_threaded("cp314t")
    assert not free_threaded("cp313") and not free_threaded("abi3") and not free_threaded("none")


@pytest.mark.parametrize(
    "filename",
    [
        "numpy-2.1.0-cp313-cp313t-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "requests-2.32.3-py3-none-any.whl",
        "cryptography-43.0.0-cp39-abi3-macosx_10_9_universal2.whl",
        "pkg-1.0-1build-cp312-cp312-win_amd64.whl",
    ],
)
def test_the_tags_packaging_reads_name_the_same_categories(filename: str) -> None:
    """The query cuts the last two dash-separated parts; packaging's parser agrees on what they name."""
    _, _, _, tags = parse_wheel_filename(filename)
    abi, platform = filename[: -len(".whl")].split("-")[-2:]
    assert {platform_category(t.platform) for t in tags} == {platform_category(platform)}
    assert {abi_category(t.abi) for t in tags} == {abi_category(abi)}
