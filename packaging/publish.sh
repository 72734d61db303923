#!/usr/bin/env bash
# Publishes replicator as a self-contained single-file program (no .NET needed on the machine) for linux-x64 and
# linux-arm64, ReadyToRun (compiled ahead, for a fast start), into dist/RID/: the program `replicator` and the one
# native library it loads (SQLite's), which stays beside it rather than being extracted at each start.
# Invariant globalization: no ICU to depend on (the program compares and formats culture-invariantly). Not trimmed: its libraries (System.CommandLine, Serilog, AngleSharp, SharpCompress, SQLite) use reflection the
# trimmer warns about, and a trimmed cache that breaks on a rare path is not worth the 40 MB.
#
#   packaging/publish.sh            both architectures
#   RIDS=linux-x64 packaging/publish.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rids=${RIDS:-"linux-x64 linux-arm64"}
for rid in $rids; do
    rm -rf "dist/$rid"
    dotnet publish src/Replicator -c Release -r "$rid" --self-contained true \
        -p:PublishSingleFile=true -p:PublishReadyToRun=true -p:InvariantGlobalization=true -p:DebugType=none \
        -o "dist/$rid" -v quiet -nologo
    echo "dist/$rid/replicator ($(du -sh "dist/$rid" | cut -f1)): $(cd "dist/$rid" && ls | tr '\n' ' ')"
done
