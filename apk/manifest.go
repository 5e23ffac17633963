package apk

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/avast/apkparser"
)

// manifestFile is the name of the binary manifest inside an APK.
const manifestFile = "AndroidManifest.xml"

// manifest is what Inspect reads from AndroidManifest.xml.
type manifest struct {
	pkg         string
	versionCode int64
	versionName string
	minSDK      int
	targetSDK   int
}

// manifestReader receives the tokens of the binary XML from apkparser and
// keeps the attributes of <manifest> and of its direct child <uses-sdk>.
// Android reads attributes by resource id whatever their namespace prefix;
// apkparser already maps ids to android: names, so only local names count.
type manifestReader struct {
	depth    int
	seenRoot bool

	pkg, versionCode, versionCodeMajor, versionName string
	minSDK, targetSDK                               string
}

func (m *manifestReader) EncodeToken(t xml.Token) error {
	switch t := t.(type) {
	case xml.StartElement:
		m.depth++
		switch {
		case m.depth == 1 && t.Name.Local == "manifest" && !m.seenRoot:
			m.seenRoot = true
			for _, a := range t.Attr {
				switch a.Name.Local {
				case "package":
					m.pkg = a.Value
				case "versionCode":
					m.versionCode = a.Value
				case "versionCodeMajor":
					m.versionCodeMajor = a.Value
				case "versionName":
					m.versionName = a.Value
				}
			}
		case m.depth == 2 && m.seenRoot && t.Name.Local == "uses-sdk":
			// PackageParser takes the first <uses-sdk> it meets.
			if m.minSDK == "" && m.targetSDK == "" {
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "minSdkVersion":
						m.minSDK = a.Value
					case "targetSdkVersion":
						m.targetSDK = a.Value
					}
				}
			}
		}
	case xml.EndElement:
		m.depth--
	}
	return nil
}

func (m *manifestReader) Flush() error { return nil }

// Size limits of the entries read into memory. Real manifests are well
// under 1 MiB and resource tables a few tens of MiB at most.
const (
	maxManifestSize  = 16 << 20
	maxResourcesSize = 64 << 20
)

// readManifest parses AndroidManifest.xml from zr. References into
// resources.arsc are resolved only when a field Inspect reports is one.
// The error says what is wrong in one phrase; the caller wraps it in
// ErrMalformed.
func readManifest(zr *apkparser.ZipReader) (man manifest, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s cannot be parsed (the parser failed: %v)", manifestFile, r)
		}
	}()
	data, err := readEntry(zr, manifestFile, maxManifestSize)
	if err != nil {
		return man, err
	}
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n\ufeff"), []byte("<")) {
		return man, fmt.Errorf("%s is plain-text XML, not the compiled binary XML of a built APK", manifestFile)
	}
	if err := checkXML(data); err != nil {
		return man, err
	}
	mr, err := parseManifestXML(data, nil)
	if err != nil {
		return man, err
	}
	if mr.hasReference() {
		res, err := readResources(zr)
		if err != nil {
			return man, err
		}
		if mr, err = parseManifestXML(data, res); err != nil {
			return man, err
		}
	}
	return mr.manifest()
}

func parseManifestXML(data []byte, res *apkparser.ResourceTable) (*manifestReader, error) {
	var mr manifestReader
	err := apkparser.ParseXml(bytes.NewReader(data), &mr, res)
	switch {
	case errors.Is(err, apkparser.ErrPlainTextManifest):
		return nil, fmt.Errorf("%s is plain-text XML, not the compiled binary XML of a built APK", manifestFile)
	case err != nil:
		return nil, fmt.Errorf("%s cannot be parsed (%s)", manifestFile, oneLine(err))
	case !mr.seenRoot:
		return nil, fmt.Errorf("%s has no <manifest> root element", manifestFile)
	}
	return &mr, nil
}

// hasReference reports whether a field Inspect reports is a resource
// reference that only resources.arsc can resolve.
func (m *manifestReader) hasReference() bool {
	for _, v := range []string{m.versionCode, m.versionCodeMajor, m.versionName, m.minSDK, m.targetSDK} {
		if strings.HasPrefix(v, "@") {
			return true
		}
	}
	return false
}

func readResources(zr *apkparser.ZipReader) (*apkparser.ResourceTable, error) {
	const name = "resources.arsc"
	data, err := readEntry(zr, name, maxResourcesSize)
	if err != nil {
		return nil, fmt.Errorf("%s refers to resources: %w", manifestFile, err)
	}
	if err := checkTable(data); err != nil {
		return nil, err
	}
	res, err := apkparser.ParseResourceTable(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s cannot be parsed (%s)", name, oneLine(err))
	}
	return res, nil
}

// readEntry reads the zip entry name, refusing one larger than limit.
func readEntry(zr *apkparser.ZipReader, name string, limit int64) ([]byte, error) {
	f := zr.File[name]
	if f == nil {
		return nil, fmt.Errorf("the archive has no %s", name)
	}
	if h := f.ZipHeader(); h != nil && h.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s is %d bytes; at most %d are accepted", name, h.UncompressedSize64, limit)
	}
	data, err := f.ReadAll(limit + 1)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be read (%s)", name, oneLine(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is more than %d bytes; at most %d are accepted", name, limit, limit)
	}
	return data, nil
}

func (m *manifestReader) manifest() (manifest, error) {
	var out manifest
	if m.pkg == "" {
		return out, fmt.Errorf("%s has no package name", manifestFile)
	}
	if strings.HasPrefix(m.pkg, "@") || strings.HasPrefix(m.pkg, "#") {
		return out, fmt.Errorf("%s: package %q is not a package name", manifestFile, m.pkg)
	}
	out.pkg = m.pkg

	// Android's long version code is versionCodeMajor << 32 | versionCode,
	// with versionCode taken as an unsigned 32-bit value.
	code, err := manifestInt("versionCode", m.versionCode, 0)
	if err != nil {
		return out, err
	}
	major, err := manifestInt("versionCodeMajor", m.versionCodeMajor, 0)
	if err != nil {
		return out, err
	}
	if major < 0 || major > 1<<31-1 {
		return out, fmt.Errorf("%s: versionCodeMajor %d is out of range; want 0 to 2147483647", manifestFile, major)
	}
	out.versionCode = major<<32 | code&0xffffffff

	if strings.HasPrefix(m.versionName, "@") {
		return out, fmt.Errorf("%s: versionName is the resource reference %s, which resources.arsc does not resolve", manifestFile, m.versionName)
	}
	out.versionName = m.versionName

	minSDK, err := sdkLevel("minSdkVersion", m.minSDK, 1)
	if err != nil {
		return out, err
	}
	targetSDK, err := sdkLevel("targetSdkVersion", m.targetSDK, minSDK)
	if err != nil {
		return out, err
	}
	out.minSDK, out.targetSDK = minSDK, targetSDK
	return out, nil
}

// manifestInt parses an integer attribute as apkparser prints it (decimal,
// or 0x-prefixed hex); an absent attribute is def.
func manifestInt(name, v string, def int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %s %q is not an integer", manifestFile, name, v)
	}
	return n, nil
}

// sdkLevel parses an API level attribute of <uses-sdk>. Preview codenames
// ("Tiramisu") are refused: they only install on that preview platform.
func sdkLevel(name, v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: %s %q is not an API level number (preview codenames are not supported)", manifestFile, name, v)
	}
	if n < 1 {
		return 0, fmt.Errorf("%s: %s %d is not an API level; want 1 or more", manifestFile, name, n)
	}
	return int(n), nil
}
