#!/usr/bin/env bash
# README quickstart, first command: set everything up, then run the demo of the whole flow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run demo
