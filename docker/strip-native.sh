#!/bin/sh
# Build stages only (docker/Dockerfile): strip the symbol tables from the native
# libraries that wheels install under $1 (about 30 MB per image; no run needs
# them). Files that auditwheel repaired with patchelf are left alone, since
# strip breaks their layout ("ELF load command address/offset not
# page-aligned"): the vendored libraries in *.libs/ and every module with an
# RPATH.
set -eu
find "$1" -type f \( -name '*.so' -o -name '*.so.[0-9]*' \) -not -path '*.libs/*' | while read -r lib; do
  readelf -d "$lib" | grep -qE 'R(UN)?PATH' || strip --strip-unneeded "$lib"
done
