#!/usr/bin/env bash
# Regenerate the book's reference pages (docs/src/reference: config keys, output columns, every
# command's --help) from the code. Run it after changing a config key, a column or a help text;
# `cargo test --test cli reference_pages` fails until the committed pages equal the generated ones.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --quiet
target/release/silab reference --out docs/src/reference
