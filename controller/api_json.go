package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sluice-mdm/sluice/manifest"
	"github.com/sluice-mdm/sluice/policy"
)

// apiError is an answer other than success: a status and one sentence,
// with one line per problem when there are several.
type apiError struct {
	Status  int
	Message string
	Errors  []string
	// RetryAfter, in whole seconds, is sent as Retry-After when positive.
	RetryAfter int
}

func (e *apiError) Error() string { return e.Message }

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error  string   `json:"error"`
	Errors []string `json:"errors,omitempty"`
}

func badRequest(format string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// badParam is the 400 of a query parameter: it names the parameter, the
// value and what is allowed.
func badParam(name, value, allowed string) error {
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("parameter %s: %q is not allowed; want %s", name, value, allowed)}
}

// userMessage is err as one sentence for an API client: without the
// package prefix the store's errors carry.
func userMessage(err error) string {
	msg := err.Error()
	for _, p := range []string{"controller: ", "policy: ", "manifest: "} {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			return rest
		}
	}
	return msg
}

// statusOf maps an error to its answer.
func statusOf(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the request body is larger than the %d bytes allowed", mbe.Limit)}
	case errors.Is(err, manifest.ErrInvalid):
		return &apiError{Status: http.StatusBadRequest, Message: "the manifests are not valid", Errors: manifestLines(err)}
	case errors.Is(err, policy.ErrRuleRefused):
		return &apiError{Status: http.StatusUnprocessableEntity, Message: userMessage(err)}
	case errors.Is(err, ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Message: userMessage(err)}
	case errors.Is(err, ErrConflict), errors.Is(err, ErrImmutable):
		return &apiError{Status: http.StatusConflict, Message: userMessage(err)}
	case errors.Is(err, ErrInvalid):
		return &apiError{Status: http.StatusBadRequest, Message: userMessage(err)}
	case errors.Is(err, ErrNotReady):
		return &apiError{Status: http.StatusServiceUnavailable, Message: "the controller is not ready yet (its catalog is still loading); try again shortly"}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusServiceUnavailable, Message: "the controller did not answer in time; try again"}
	}
	return &apiError{Status: http.StatusInternalServerError, Message: "internal error; the controller's log has the details"}
}

func manifestLines(err error) []string {
	var lines []string
	for _, e := range manifest.Errors(err) {
		lines = append(lines, e.Error())
	}
	if len(lines) == 0 {
		lines = strings.Split(err.Error(), "\n")
	}
	return lines
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := statusOf(err)
	if ae.Status >= 500 {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "error", err)
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(ae.RetryAfter))
	}
	_ = writeJSON(w, ae.Status, errorBody{Error: ae.Message, Errors: ae.Errors})
}

// writeJSON writes v with status. Its error only says the client went
// away.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
	return nil
}

// checkContentType answers 415 unless the request's media type is one of
// allowed.
func checkContentType(r *http.Request, allowed ...string) (string, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(allowed, mt) {
		return "", &apiError{Status: http.StatusUnsupportedMediaType,
			Message: fmt.Sprintf("content type %q is not accepted here; want %s", ct, strings.Join(allowed, ", "))}
	}
	return mt, nil
}

// readBody reads the whole body, at most limit bytes (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("the request body could not be read: %v", err)
	}
	return data, nil
}

// decodeJSON reads a JSON body into v strictly: application/json, at
// most limit bytes, one object, no unknown fields, right types.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if _, err := checkContentType(r, "application/json"); err != nil {
		return err
	}
	data, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the JSON body is not acceptable: %s", jsonProblem(err))
	}
	if dec.More() {
		return badRequest("the JSON body is not acceptable: it holds more than one JSON value")
	}
	return nil
}

// jsonProblem words a decoding error for a client.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "it is empty; want a JSON object"
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Sprintf("field %s: a JSON %s is not allowed; want %s", field, te.Value, jsonTypeName(te.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("field %s is not known", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonTypeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["):
		return "an object"
	}
	return "an object"
}

// queryParams checks that q holds only known parameters, each at most
// once, and returns their values.
func queryParams(q url.Values, known ...string) (map[string]string, error) {
	out := make(map[string]string, len(q))
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			allowed := "no parameters"
			if len(known) > 0 {
				allowed = "one of " + strings.Join(known, ", ")
			}
			return nil, &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("parameter %s is not known; want %s", k, allowed)}
		}
		if len(q[k]) > 1 {
			return nil, &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("parameter %s is given %d times; want it once", k, len(q[k]))}
		}
		out[k] = q[k][0]
	}
	return out, nil
}
