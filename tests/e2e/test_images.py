"""What the location images leave out at build time (docker/Dockerfile) is never needed."""

from tests.e2e.platform import docker, inspect, service_container

FORMAT_AS_DBT = """
import agate, babel, babel.numbers, pathlib
locale = agate.config.get_option("default_locale")
data = sorted(p.name for p in (pathlib.Path(babel.__file__).parent / "locale-data").glob("*.dat"))
print(locale, babel.numbers.format_decimal(1234567.891, locale=locale), len(data))
"""


def test_transform_image_formats_numbers_as_dbt_does_with_english_locale_data_only():
    image = inspect(service_container("transform"))["Config"]["Image"]
    out = docker("run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", FORMAT_AS_DBT)
    locale, formatted, files = out.split()
    assert (locale, formatted) == ("en_US_POSIX", "1234567.891")  # the C.UTF-8 locale, as agate sees it
    assert int(files) == 4  # root, en, en_US, en_US_POSIX: the rest of Babel's 1,000 locales are gone
