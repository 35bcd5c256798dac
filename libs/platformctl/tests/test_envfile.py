import pytest

from platformctl.envfile import EnvFile, EnvFileError


def test_set_keeps_comments_order_and_mode(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# a comment\nA=1\n\nB=2\n")
    env = EnvFile.read(path)
    env.set("A", "one")
    env.set("C", "3")
    env.unset("B")
    env.write()
    assert path.read_text() == "# a comment\nA=one\n\nC=3\n"
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_malformed_line_is_named(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A=1\nnot a line\n")
    with pytest.raises(EnvFileError, match=r"\.env:2: expected NAME=value"):
        EnvFile.read(path)


def test_a_value_with_a_line_break_is_refused(tmp_path):
    env = EnvFile.read(tmp_path / ".env")
    with pytest.raises(EnvFileError, match="line break"):
        env.set("A", "x\ny")
