package license

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// jsonError turns a decoding error into a *FieldError wrapping sentinel,
// naming the member at fault in the dotted form the rest of the package
// uses ("price.amount").
func jsonError(sentinel error, err error, hint string) error {
	fe := &FieldError{Err: sentinel, Hint: hint}
	var se *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &syn):
		fe.Field = dotted(syn.JSONPointer.Parent())
		name := syn.JSONPointer.LastToken()
		switch {
		case errors.Is(syn.Err, jsontext.ErrDuplicateName):
			fe.Problem = fmt.Sprintf("member %q appears twice", name)
		default:
			fe.Field = ""
			fe.Problem = fmt.Sprintf("not valid JSON at byte %d: %v", syn.ByteOffset, syn.Err)
		}
	case errors.As(err, &se):
		switch {
		case errors.Is(se.Err, json.ErrUnknownName):
			fe.Field = dotted(se.JSONPointer.Parent())
			fe.Problem = fmt.Sprintf("unknown member %q", se.JSONPointer.LastToken())
		default:
			fe.Field = dotted(se.JSONPointer)
			got := se.JSONKind.String()
			if len(se.JSONValue) > 0 && len(se.JSONValue) <= 40 {
				got = string(se.JSONValue)
			}
			fe.Problem = fmt.Sprintf("%s is not %s", got, describe(se.GoType))
		}
	default:
		fe.Problem = err.Error()
	}
	return fe
}

func dotted(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}

func describe(t reflect.Type) string {
	if t == nil {
		return "allowed here"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer in range (no fraction, no exponent)"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "allowed here"
}
