#!/bin/sh
# Build-time step: docker/Dockerfile runs it (dependencies installed, project not
# yet) so the dbt manifest ships inside the wheel and code servers start without
# parsing. The tests run it too when the manifest is missing or stale.
# `dbt parse` connects to no database; profiles.yml gives every env_var a default.
set -eu
cd "$(dirname "$0")/src/transform/dbt_project"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
# Logs go to a scratch folder, not into the package.
export DBT_LOG_PATH="${TMPDIR:-/tmp}/transform-dbt-parse-logs"
# The images run against Postgres; the target only changes the manifest's adapter_type.
dbt parse --quiet --project-dir . --profiles-dir . --target postgres
test -s target/manifest.json
echo "prepare.sh: wrote $(pwd)/target/manifest.json"
