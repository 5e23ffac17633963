package apk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/avast/apkparser"
	"github.com/avast/apkverifier"
	"github.com/avast/apkverifier/apilevel"
	"github.com/avast/apkverifier/signingblock"
)

// API levels where Android's signature checks change.
const (
	sdkV2 = 24 // Android 7.0 checks APK Signature Scheme v2
	sdkV3 = 28 // Android 9 checks APK Signature Scheme v3
)

// signature is the outcome of a successful verification.
type signature struct {
	signers []string // sorted lowercase hex SHA-256 of each signer's certificate
	schemes []int    // sorted
}

// verifySignature verifies the APK in r (already opened as zr) for devices
// at API level minSDK and later. It returns a *failure wrapping ErrUnsigned
// or ErrBadSignature, whose reason is one sentence.
func verifySignature(r io.ReadSeeker, zr *apkparser.ZipReader, minSDK int) (sig signature, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &failure{kind: ErrBadSignature, reason: fmt.Sprintf("the signature data is malformed (the verifier failed: %v)", p)}
		}
	}()

	hasV1 := hasJARSignature(zr)
	hasBlock := hasSigningBlock(r)
	if !hasV1 && !hasBlock {
		return sig, &failure{kind: ErrUnsigned, reason: "the APK has no v1 (JAR), v2 or v3 signature"}
	}

	res, verr := apkverifier.VerifyWithSdkVersionReader(r, zr, int32(minSDK), apilevel.V_AnyMax)
	if verr != nil {
		if minSDK < sdkV2 && !hasV1 {
			return sig, &failure{kind: ErrBadSignature, reason: fmt.Sprintf(
				"the APK is signed only with APK Signature Scheme v2/v3, which devices below API level %d do not check; API level %d needs a v1 (JAR) signature", sdkV2, minSDK)}
		}
		if errors.Is(verr, apkverifier.ErrMixedDexApkFile) {
			return sig, &failure{kind: ErrBadSignature, reason: "the file is both a DEX file and a ZIP archive (the Janus attack)"}
		}
		return sig, &failure{kind: ErrBadSignature, reason: fmt.Sprintf("the signature does not verify for API level %d and later: %s", minSDK, oneLine(verr))}
	}

	top := res.SigningSchemeId
	switch {
	case top >= 3: // 3, or 31 (v3.1, which Android only uses next to v3)
		sig.schemes = append(sig.schemes, 3)
		if minSDK < sdkV3 {
			// Devices at API levels 24 to 27 do not know v3 and check
			// v2 instead; the verifier above only checked v3.
			_, _, v2err := signingblock.VerifySigningBlockReaderWithZip(r, int32(minSDK), sdkV3-1, zr)
			switch {
			case v2err == nil:
				sig.schemes = append(sig.schemes, 2)
			case !signingblock.IsSigningBlockNotFoundError(v2err):
				return sig, &failure{kind: ErrBadSignature, reason: fmt.Sprintf(
					"the v2 signature, which devices at API levels %d to %d check, does not verify: %s", max(minSDK, sdkV2), sdkV3-1, oneLine(v2err))}
			}
		}
	case top == 2:
		sig.schemes = append(sig.schemes, 2)
	}
	// The verifier checks v1 for devices below API 24, and when there is
	// no v2/v3 signature at all.
	if hasV1 && (minSDK < sdkV2 || top == 1) {
		sig.schemes = append(sig.schemes, 1)
	}
	slices.Sort(sig.schemes)

	for _, chain := range res.SignerCerts {
		if len(chain) == 0 || chain[0] == nil {
			continue
		}
		sum := sha256.Sum256(chain[0].Raw)
		sig.signers = append(sig.signers, hex.EncodeToString(sum[:]))
	}
	slices.Sort(sig.signers)
	sig.signers = slices.Compact(sig.signers)
	if len(sig.signers) == 0 || len(sig.schemes) == 0 {
		return sig, &failure{kind: ErrBadSignature, reason: "the signature verified but names no signing certificate"}
	}
	return sig, nil
}

// hasJARSignature reports whether the APK carries a v1 signature: a
// signature block file in META-INF with its .SF signature file.
func hasJARSignature(zr *apkparser.ZipReader) bool {
	for name := range zr.File {
		dir, file := path.Split(name)
		if dir != "META-INF/" {
			continue
		}
		ext := path.Ext(file)
		switch ext {
		case ".RSA", ".DSA", ".EC":
			if zr.File[strings.TrimSuffix(name, ext)+".SF"] != nil {
				return true
			}
		}
	}
	return false
}

// hasSigningBlock reports whether the APK has an APK Signing Block with a
// v2, v3 or v3.1 signature in it, valid or not.
func hasSigningBlock(r io.ReadSeeker) bool {
	_, err := signingblock.ExtractCertsReader(r, apilevel.V_AnyMin, apilevel.V_AnyMax)
	return !signingblock.IsSigningBlockNotFoundError(err)
}

// oneLine turns a verifier error into text that fits inside one sentence.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	s = strings.TrimRight(s, ".!")
	if s == "" {
		return "unknown error"
	}
	return s
}
