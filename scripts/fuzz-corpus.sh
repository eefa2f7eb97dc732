#!/usr/bin/env bash
# Grows the committed fuzz corpora: runs each target of `make fuzz` (package:Target[:inputs]) for
# FUZZTIME (default 1m; a duration, so a rare spurious "context deadline exceeded", go.dev/issue/75804),
# then copies the inputs the fuzzer found interesting (from Go's fuzz cache) into the package's
# testdata/fuzz/<Target>/, where plain `go test` replays them as regression seeds. At most
# CORPUS_MAX entries (default 64) per target are kept, the smallest first, so the repository
# stays lean. Usage: FUZZTIME=5m scripts/fuzz-corpus.sh [pkg:Target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
fuzztime=${FUZZTIME:-1m}
max=${CORPUS_MAX:-64}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	read -r -a targets <<<"$(make -s print-fuzz-targets)"
fi
module=$(go list -m)
cache=$(go env GOCACHE)/fuzz
for t in "${targets[@]}"; do
	IFS=: read -r pkg name _ <<<"$t"
	echo "fuzz $pkg $name for $fuzztime" >&2
	go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$pkg" >/dev/null
	src=$cache/$module/${pkg#./}/$name
	dst=${pkg#./}/testdata/fuzz/$name
	mkdir -p "$dst"
	[ -d "$src" ] || continue
	# Smallest first: small inputs replay fast and say the most per byte.
	find "$src" -type f -printf '%s %p\n' | sort -n | head -n "$max" | while read -r _ f; do
		cp -n "$f" "$dst/"
	done
	# Keep the committed set bounded too.
	find "$dst" -type f -printf '%s %p\n' | sort -n | tail -n +$((max + 1)) | cut -d' ' -f2- | xargs -r rm -f
	echo "  $(find "$dst" -type f | wc -l) entries in $dst" >&2
done
