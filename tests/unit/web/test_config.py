import pytest
from pydantic import ValidationError

from services.web.config import WebSettings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WebSettings().port == 8080
    monkeypatch.setenv("PYPI_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("PAGE_CACHE_TTL", "0")
    settings = WebSettings()
    assert settings.pypi_url == "http://127.0.0.1:9999" and settings.page_cache_ttl == 0


@pytest.mark.parametrize(
    "field,value", [("pypi_url", "ftp://x"), ("pypi_url", "pypi.org"), ("pypi_timeout", 0), ("port", 70000)]
)
def test_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        WebSettings(**{field: value})
