#!/usr/bin/env bash
# Builds dist/replicator_VERSION_ARCH.deb with dpkg-deb from the self-contained program (packaging/publish.sh):
#   /usr/lib/replicator/          the program and its native library; /usr/bin/replicator links to it
#   /lib/systemd/system/replicator.service   the unit (docs/replicator.service, pointed at /usr/bin)
#   /etc/replicator/replicator.conf          a conffile: the service's settings, then every option, commented
#   /etc/logrotate.d/replicator              weekly, SIGHUP through systemctl reload
#   /usr/share/man/man8/replicator.8.gz      generated from the program's own --help, so they never disagree
# postinst creates the system user and group replicator and /var/cache/replicator and /var/log/replicator owned by
# it; postrm leaves the cache and the log unless the package is purged.
#
#   packaging/build-deb.sh              amd64 and arm64 (publishes first)
#   RIDS=linux-x64 packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rids=${RIDS:-"linux-x64 linux-arm64"}
RIDS="$rids" packaging/publish.sh
version=$(dotnet msbuild src/Replicator -getProperty:Version -nologo)
host=$(RIDS="" dotnet msbuild src/Replicator -getProperty:NETCoreSdkRuntimeIdentifier -nologo)

for rid in $rids; do
    arch=$([[ $rid == linux-arm64 ]] && echo arm64 || echo amd64)
    root=$(mktemp -d)
    install -d "$root/DEBIAN" "$root/usr/lib/replicator" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/replicator" \
        "$root/etc/logrotate.d" "$root/usr/share/man/man8" "$root/usr/share/doc/replicator"
    cp -a "dist/$rid/." "$root/usr/lib/replicator/"
    chmod 0644 "$root"/usr/lib/replicator/*.so
    strip=$([[ $arch == amd64 ]] && echo strip || echo aarch64-linux-gnu-strip)
    if command -v "$strip" >/dev/null; then
        "$strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$root"/usr/lib/replicator/*.so
    else
        echo "build-deb: no $strip: the native library stays unstripped (lintian will say so)" >&2
    fi
    ln -s ../lib/replicator/replicator "$root/usr/bin/replicator"
    sed 's|^ExecStart=.*|ExecStart=/usr/bin/replicator --config /etc/replicator/replicator.conf|; /^# Install/,/^#   sudo systemctl enable/d' \
        docs/replicator.service > "$root/lib/systemd/system/replicator.service"

    # The help of the program that is packaged (the host's build when the package is for another architecture).
    helper="dist/$rid/replicator"
    [[ $rid == "$host" ]] || helper="dotnet run --project src/Replicator -c Release --"
    help=$($helper --help)

    {
        cat docs/replicator.conf
        echo
        echo "# ---------------------------------------------------------------------------------------------------------"
        echo "# Every option (from 'replicator --help'; the command line's own words). Uncomment to use: 'name = value'."
        echo "# ---------------------------------------------------------------------------------------------------------"
        echo "$help" | awk '/^  -/ {
            line = $0; sub(/^ +/, "", line)
            match(line, /--[a-z0-9-]+/); name = substr(line, RSTART + 2, RLENGTH - 2)
            if (name == "help" || name == "version" || name == "config") next
            text = line; sub(/^(-[a-z?], )?--[a-z0-9-]+( <[^>]+>)? +/, "", text)
            value = "true"; if (match(text, /\[default: [^]]*\]/)) { value = substr(text, RSTART + 10, RLENGTH - 11); sub(/ *\[default: [^]]*\]/, "", text) }
            else if (line ~ /<[^>]+>/) value = "VALUE"
            printf "\n# %s\n# %s = %s\n", text, name, value }'
    } > "$root/etc/replicator/replicator.conf"

    cat > "$root/etc/logrotate.d/replicator" <<'LOGROTATE'
/var/log/replicator/*.log {
    weekly
    rotate 8
    compress
    delaycompress
    missingok
    notifempty
    postrotate
        systemctl reload replicator >/dev/null 2>&1 || true
    endscript
}
LOGROTATE

    # The man page, from the same --help.
    {
        echo ".TH REPLICATOR 8 \"$(date -u +%Y-%m-%d)\" \"replicator $version\" \"System Administration\""
        echo ".SH NAME"
        echo "replicator \\- a caching HTTP mirror proxy"
        echo ".SH SYNOPSIS"
        echo ".B replicator"
        echo "[\\fIoptions\\fR]"
        echo ".br"
        echo ".B replicator mirror"
        echo "\\fIURL\\fR... | \\fBapt\\fR \\fIURL\\fR [\\fIoptions\\fR]"
        echo ".br"
        echo ".B replicator cache"
        echo "\\fBstats\\fR|\\fBverify\\fR|\\fBpurge\\fR|\\fBexpire\\fR|\\fBimport\\fR [\\fIoptions\\fR]"
        echo ".SH DESCRIPTION"
        echo "Every file fetched through Replicator is mirrored into a plain directory tree, \\fIROOT/HOST:PORT/PATH\\fR, holding"
        echo "exactly the bytes the server sent; later requests are served from that tree. The service reads"
        echo ".IR /etc/replicator/replicator.conf ."
        echo ".SH OPTIONS"
        echo "$help" | awk '/^  -/ { line = $0; sub(/^ +/, "", line); split(line, parts, /  +/); opt = parts[1]; text = line; sub(/^[^ ]+( [^ ]+)?( <[^>]+>)? +/, "", text)
            gsub(/\\/, "\\\\", opt); gsub(/-/, "\\-", opt); printf ".TP\n.B %s\n%s\n", opt, text }'
        echo ".SH FILES"
        echo ".TP"
        echo ".I /etc/replicator/replicator.conf"
        echo "the service's options, one 'name = value' per line"
        echo ".TP"
        echo ".I /var/cache/replicator"
        echo "the cache tree"
        echo ".SH SEE ALSO"
        echo "/usr/share/doc/replicator/user-guide.md"
    } | gzip -9n > "$root/usr/share/man/man8/replicator.8.gz"
    cp docs/user-guide.md "$root/usr/share/doc/replicator/"
    gzip -9n -c > "$root/usr/share/doc/replicator/changelog.gz" <<CHANGELOG
replicator ($version) unstable; urgency=low

  * Built from commit $(git rev-parse --short HEAD).

 -- Replicator developers <replicator@users.noreply.github.com>  $(date -u -R)
CHANGELOG

    cat > "$root/DEBIAN/control" <<CONTROL
Package: replicator
Version: $version
Architecture: $arch
Maintainer: Replicator developers <replicator@users.noreply.github.com>
Section: net
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Depends: libc6, libgcc-s1, libstdc++6, libssl3 | libssl1.1, ca-certificates, passwd
Homepage: https://example.invalid/replicator
Description: caching HTTP mirror proxy for browsers and apt
 Every file fetched through Replicator is mirrored into a plain directory tree
 that people can browse and copy, and served from it afterwards, also offline:
 a package mirror for a LAN that needs no network once filled.
CONTROL
    printf '/etc/logrotate.d/replicator\n/etc/replicator/replicator.conf\n' > "$root/DEBIAN/conffiles"
    cat > "$root/usr/share/doc/replicator/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: replicator

Files: *
Copyright: the Replicator developers
License: other
 No license has been chosen for this project yet: this package is built from its source for use by the people
 who build it. The bundled .NET runtime is MIT-licensed (Microsoft), SQLite is in the public domain.
COPYRIGHT
    # The .NET host links zlib-ng in (System.IO.Compression); it cannot use the system's.
    install -d "$root/usr/share/lintian/overrides"
    printf 'replicator: embedded-library zlib [usr/lib/replicator/replicator]\n' > "$root/usr/share/lintian/overrides/replicator"
    cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent group replicator >/dev/null || groupadd --system replicator
    getent passwd replicator >/dev/null || useradd --system --gid replicator --home-dir /var/cache/replicator \
        --no-create-home --shell /usr/sbin/nologin --comment "Replicator caching proxy" replicator
    install -d -o replicator -g replicator -m 0755 /var/cache/replicator /var/log/replicator
    if command -v deb-systemd-helper >/dev/null; then
        deb-systemd-helper enable replicator.service >/dev/null || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        if command -v deb-systemd-invoke >/dev/null; then
            deb-systemd-invoke restart replicator.service >/dev/null || true
        fi
    fi
fi
exit 0
POSTINST
    cat > "$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ] && command -v deb-systemd-invoke >/dev/null; then
    deb-systemd-invoke stop replicator.service >/dev/null 2>&1 || true
fi
exit 0
PRERM
    cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
    # The cache and the log go only when purged; the system user stays (files elsewhere may still be its).
    rm -rf /var/cache/replicator /var/log/replicator
    if command -v deb-systemd-helper >/dev/null; then
        deb-systemd-helper purge replicator.service >/dev/null || true
        deb-systemd-helper unmask replicator.service >/dev/null || true
    fi
fi
if [ "$1" = remove ] && command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper mask replicator.service >/dev/null || true
fi
exit 0
POSTRM
    chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
    mkdir -p dist
    fakeroot dpkg-deb --build --root-owner-group "$root" "dist/replicator_${version}_${arch}.deb" >/dev/null 2>&1 \
        || dpkg-deb --build --root-owner-group "$root" "dist/replicator_${version}_${arch}.deb" >/dev/null
    rm -rf "$root"
    echo "dist/replicator_${version}_${arch}.deb"
done
