#!/usr/bin/env bash
# build.sh builds Sluice's own demo and test APKs into ./files.
#
# The APKs are real, installable Android packages (resources only,
# android:hasCode="false"), built and signed offline with Debian's Android
# tools:
#
#   apt-get install aapt zipalign apksigner android-framework-res openssl
#
# (apksigner pulls in a Java runtime). Run it from anywhere:
#
#   internal/testapk/build.sh            # rebuild files/*.apk with the committed keys
#   internal/testapk/build.sh --new-keys # also replace keys/ with two fresh test keys
#
# What it builds (the catalogue in testapk.go must list exactly these; the
# package's tests check every file against it):
#
#   pos-1.0.0 .. pos-3.0.0     com.example.pos   100 110 200 210 300   key A, minSdk 21
#   menu-4.3.3 .. menu-5.1.0   com.example.menu  433 450 500 510       key A, minSdk 21
#   kiosk-1.0.0, kiosk-2.0.0   com.example.kiosk 10 20                 key A, minSdk 21
#   kiosk-2.0.0-minsdk34       com.example.kiosk 20                    key A, minSdk 34
#   pos-2.0.0-keyB             com.example.pos   200                   key B (signer mismatch)
#   menu-5.1.0-large           com.example.menu  510 + a 3 MiB stored  key A (download demos)
#                              (not deflated) incompressible asset
#
# It also writes ../../apk/testdata/resref-versionname.apk (com.example.resref
# 7.1.0 (71), key A, whose versionName is a @string reference) for package
# apk's tests, and testdata/apksigner.txt, what `apksigner verify` says of each
# file, which the tests compare with what package apk reads.
#
# apksigner signs every file with v1 (JAR), v2 and v3 (its defaults); v4
# .idsig files are not produced. For the minSdk 34 variant `apksigner verify`
# reports only v3, the one scheme devices at API 34 and later check.
#
# Determinism: aapt writes fixed zip timestamps, zipalign and apksigner add no
# time-dependent data and RSA PKCS#1 v1.5 signatures are deterministic, so a
# rerun with the same keys and tool versions reproduces the files byte for
# byte. The large asset comes from AES-256-CTR over zeros with a fixed key, so
# it is the same on every run. Only --new-keys (or missing keys) changes the
# output; then SignerA/SignerB change with them, read from keys/*.cert.pem.
#
# The keys in keys/ are TEST KEYS: their private halves are public in this
# repository. Never use them for anything real.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
keys="$here/keys"
out="$here/files"
framework=/usr/share/android-framework-res/framework-res.apk

for tool in aapt zipalign apksigner openssl; do
	command -v "$tool" >/dev/null || { echo "build.sh: $tool is not installed (apt-get install aapt zipalign apksigner openssl)" >&2; exit 1; }
done
[ -f "$framework" ] || { echo "build.sh: $framework is missing (apt-get install android-framework-res)" >&2; exit 1; }

new_keys=false
case "${1:-}" in
"") ;;
--new-keys) new_keys=true ;;
*) echo "usage: build.sh [--new-keys]" >&2; exit 2 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# make_key NAME CN: a 2048-bit RSA key as PKCS#8 DER (what apksigner reads)
# and a self-signed certificate valid for 30 years.
make_key() {
	local name=$1 cn=$2
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/$name.key.pem" 2>/dev/null
	openssl pkcs8 -topk8 -nocrypt -inform PEM -in "$work/$name.key.pem" -outform DER -out "$keys/$name.pk8"
	openssl req -new -x509 -key "$work/$name.key.pem" -days 10950 -set_serial 1 \
		-subj "/O=Sluice test fixtures (NOT FOR REAL USE)/CN=$cn" -out "$keys/$name.cert.pem"
}

mkdir -p "$keys"
if $new_keys || [ ! -f "$keys/a.pk8" ] || [ ! -f "$keys/b.pk8" ]; then
	make_key a "Sluice Test Key A"
	make_key b "Sluice Test Key B"
	echo "build.sh: new test keys written to $keys"
fi

# build FILE PACKAGE LABEL VERSION_CODE VERSION_NAME MIN_SDK TARGET_SDK KEY [LARGE]
build() {
	local file=$1 pkg=$2 label=$3 code=$4 name=$5 min=$6 target=$7 key=$8 large=${9:-}
	local dir="$work/src/$file"
	mkdir -p "$dir/res/values" "$dir/assets"
	cat >"$dir/AndroidManifest.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="$pkg"
    android:versionCode="$code"
    android:versionName="$name">
    <uses-sdk android:minSdkVersion="$min" android:targetSdkVersion="$target" />
    <application android:label="@string/app_name" android:hasCode="false" />
</manifest>
EOF
	cat >"$dir/res/values/strings.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<resources>
    <string name="app_name">$label</string>
    <string name="release">$label $name ($code), a Sluice test package</string>
</resources>
EOF
	local assets=()
	if [ "$large" = large ]; then
		# 3 MiB of AES-CTR keystream: incompressible, identical on every run.
		head -c 3145728 /dev/zero |
			openssl enc -aes-256-ctr -nosalt \
				-K 736c756963652d746573742d6173736574732d6172652d6e6f742d7365637265 \
				-iv 00000000000000000000000000000000 >"$dir/assets/payload.bin"
		assets=(-A "$dir/assets" -0 bin)
	fi
	aapt package -f -M "$dir/AndroidManifest.xml" -S "$dir/res" "${assets[@]}" \
		-I "$framework" -F "$dir/unsigned.apk"
	zipalign -f -p 4 "$dir/unsigned.apk" "$dir/aligned.apk"
	apksigner sign --key "$keys/$key.pk8" --cert "$keys/$key.cert.pem" \
		--v4-signing-enabled false --out "$dir/$file.apk" "$dir/aligned.apk"
	apksigner verify "$dir/$file.apk"
	mv "$dir/$file.apk" "$work/out/$file.apk"
}

mkdir -p "$work/out"
build pos-1.0.0 com.example.pos POS 100 1.0.0 21 33 a
build pos-1.1.0 com.example.pos POS 110 1.1.0 21 33 a
build pos-2.0.0 com.example.pos POS 200 2.0.0 21 33 a
build pos-2.1.0 com.example.pos POS 210 2.1.0 21 33 a
build pos-3.0.0 com.example.pos POS 300 3.0.0 21 33 a
build pos-2.0.0-keyB com.example.pos POS 200 2.0.0 21 33 b
build menu-4.3.3 com.example.menu Menu 433 4.3.3 21 33 a
build menu-4.5.0 com.example.menu Menu 450 4.5.0 21 33 a
build menu-5.0.0 com.example.menu Menu 500 5.0.0 21 33 a
build menu-5.1.0 com.example.menu Menu 510 5.1.0 21 33 a
build menu-5.1.0-large com.example.menu Menu 510 5.1.0 21 33 a large
build kiosk-1.0.0 com.example.kiosk Kiosk 10 1.0.0 21 33 a
build kiosk-2.0.0 com.example.kiosk Kiosk 20 2.0.0 21 33 a
build kiosk-2.0.0-minsdk34 com.example.kiosk Kiosk 20 2.0.0 34 34 a

# A fixture for package apk's own tests, outside the catalogue: its
# versionName is a reference into resources.arsc, as plain aapt builds
# allow, which package apk must resolve.
dir="$work/src/resref"
mkdir -p "$dir/res/values"
cat >"$dir/AndroidManifest.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="com.example.resref"
    android:versionCode="71"
    android:versionName="@string/version_name">
    <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="33" />
    <application android:label="@string/app_name" android:hasCode="false" />
</manifest>
EOF
cat >"$dir/res/values/strings.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<resources>
    <string name="app_name">ResRef</string>
    <string name="version_name">7.1.0</string>
</resources>
EOF
aapt package -f -M "$dir/AndroidManifest.xml" -S "$dir/res" -I "$framework" -F "$dir/unsigned.apk"
zipalign -f -p 4 "$dir/unsigned.apk" "$dir/aligned.apk"
apksigner sign --key "$keys/a.pk8" --cert "$keys/a.cert.pem" --v4-signing-enabled false \
	--out "$here/../../apk/testdata/resref-versionname.apk" "$dir/aligned.apk"

rm -f "$out"/*.apk
mkdir -p "$out"
mv "$work/out/"*.apk "$out/"
(cd "$out" && sha256sum -- *.apk)

# Record what apksigner, an independent verifier, says of each file; the
# package's tests compare it with what package apk reads.
mkdir -p "$here/testdata"
for f in "$out"/*.apk; do
	echo "== $(basename "$f")"
	apksigner verify --print-certs -v "$f" |
		grep -E '^(Verifies|DOES NOT VERIFY|Verified using v[123] scheme|Signer #[0-9]+ certificate SHA-256 digest)'
done >"$here/testdata/apksigner.txt"
