"""A small secret scanner for the repository's own files.

Three rules: well-known key formats, secret-named keys given a literal value
(`password: hunter2`, `AWS_SECRET_ACCESS_KEY=...`), and long high-entropy
tokens. References are fine: `${VAR}`, `{{ ... }}`, `{env: VAR}`, `<placeholder>`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from fnmatch import fnmatch

KNOWN_FORMATS = {
    "AWS access key id": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "private key": r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
    "Slack token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "Google API key": r"\bAIza[0-9A-Za-z_-]{35}\b",
    "JSON web token": r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    "credentials in a URL": r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:[^\s:/@'\"${}<]{3,}@",
}

# A key named like a secret, then `:` or `=`, then a value.
SECRET_KEY = re.compile(
    r"""(?ix) (?<![\w.${-]) (?P<key>[\w.-]*(?:password|passwd|secret[_-]?access[_-]?key|secret[_-]?key|api[_-]?key|auth[_-]?token))
        ["']?\s*(?::|=)\s*(?P<value>"[^"]*"|'[^']*'|[^\s,#`)\]]*)"""
)
# Values that refer to a secret instead of holding one.
REFERENCE = re.compile(
    r"""^(?:[^A-Za-z0-9]*|\$\{.*|\$\(.*|\$\w+|\{\{.*|\{env:.*|\{.*|<.*>|\.\.\.|\*+|None|null|~|true|false|str|
        [\w.]+\(.*|[\w.]+\[.*|self\.\w+|[a-z_]+(?:\.[a-z_]+)*|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)$""",
    re.X,
)

TOKEN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+_-][A-Za-z0-9+/_-]{19,}={0,2}")
HEX = re.compile(r"\b[0-9a-f]{32,}\b")

SKIP_FILES = (
    "*uv.lock",  # all hashes by design
    # The scanner and its own tests hold sample secrets, to show that it finds them.
    "tests/security/secret_scan.py",
    "tests/security/test_secrets.py",
)

# (path pattern, literal): values the rules match that are known not to be
# secrets. Keep it tiny and say why.
ALLOW = {
    # A key *name* inside the Postgres Secret (postgres.secretKeys.password).
    ("helm/*/values.yaml", "password: password"),
    # Test fixtures: fake credentials for a fake, in-process S3 and a throwaway env.
    ("tests/helm/test_helm_dagster_config.py", '"DAGSTER_PG_PASSWORD": "not-a-secret"'),
    ("libs/platformctl/tests/test_provision.py", '_PG_PASSWORD": f"pw-{p}"'),
}


def entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


def looks_random(token: str) -> bool:
    if token.startswith("/") or "//" in token:
        return False
    classes = sum(bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes == 3 and entropy(token) >= 4.0


def find_secrets(path: str, text: str) -> list[str]:
    if any(fnmatch(path, p) for p in SKIP_FILES):
        return []
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        hits = []
        for what, pattern in KNOWN_FORMATS.items():
            hits += [f"{what}: {m.group(0)[:12]}..." for m in re.finditer(pattern, line)]
        if not path.endswith(".env.example"):
            for m in SECRET_KEY.finditer(line):
                value = m.group("value").strip("\"'")
                if not REFERENCE.match(value):
                    hits.append(f"literal for a secret-named key: {m.group('key')}={value[:2]}...")
        hits += [f"high-entropy string: {t[:6]}..." for t in TOKEN.findall(line) if looks_random(t)]
        hits += [f"long hex string: {t[:6]}..." for t in HEX.findall(line) if entropy(t) >= 3.5]
        for hit in hits:
            if not any(fnmatch(path, p) and literal in line for p, literal in ALLOW):
                found.append(f"{path}:{n}: {hit}")
    return found
