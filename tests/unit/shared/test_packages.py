import pytest

from shared.packages import ALL_PACKAGES, MAX_NAME_LENGTH, InvalidPackageName, normalize, validate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Django", "django"),
        ("zope.interface", "zope-interface"),
        ("typing_extensions", "typing-extensions"),
        ("A__B..C--D", "a-b-c-d"),
        ("requests", "requests"),
        (ALL_PACKAGES, ALL_PACKAGES),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert validate(raw) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "-leading", "trailing.", "sp ace", "semi;colon", "<script>", "../etc/passwd", "é", "x" * (MAX_NAME_LENGTH + 1),
     "1' OR '1'='1", "a\x00b"],
)  # fmt: skip
def test_validate_rejects(bad: str) -> None:
    with pytest.raises(InvalidPackageName):
        validate(bad)


def test_single_character_and_max_length_are_valid() -> None:
    assert validate("x") == "x"
    assert validate("a" * MAX_NAME_LENGTH) == "a" * MAX_NAME_LENGTH
