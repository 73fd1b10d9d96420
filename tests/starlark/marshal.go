// SPDX-License-Identifier: LGPL-2.1-or-later

package main

// The conversions between Go and Starlark values that Incus applies to
// everything a scriptlet sees or passes on (shared/scriptlet/marshal.go:
// StarlarkMarshal, StarlarkUnmarshal, starlarkObject), with the same
// semantics: maps become dicts with sorted keys, JSON numbers arrive as
// floats, and the top-level struct (the instance) becomes an object with
// attributes only: instance.name works, instance["name"] and
// instance.get("name") do not.

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.starlark.net/starlark"
)

// starlarkObject is Incus's wrapper of a top-level struct: a dict reachable
// through attributes, not a Mapping.
type starlarkObject struct {
	d        *starlark.Dict
	typeName string
}

// Type is the Go struct's name ("Instance"), as in Incus.
func (s *starlarkObject) Type() string {
	return s.typeName
}

// String prints the underlying dict.
func (s *starlarkObject) String() string {
	return s.d.String()
}

// Freeze does nothing, as in Incus: the object stays mutable through its
// dicts.
func (s *starlarkObject) Freeze() {
}

// Hash refuses, as in Incus.
func (s *starlarkObject) Hash() (uint32, error) {
	return 0, fmt.Errorf("Unhashable type %s", s.Type())
}

// Truth is always true.
func (s *starlarkObject) Truth() starlark.Bool {
	return starlark.True
}

// AttrNames returns the keys as Incus does, through Value.String(), so they
// carry their quotes (this is what dir() and hasattr's fallback see).
func (s *starlarkObject) AttrNames() []string {
	keys := s.d.Keys()
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		names = append(names, k.String())
	}

	return names
}

// Attr returns a field, or Incus's error for a missing one (a plain error,
// not NoSuchAttrError, so Starlark adds no spelling hint).
func (s *starlarkObject) Attr(name string) (starlark.Value, error) {
	field, found, err := s.d.Get(starlark.String(name))
	if err != nil {
		return nil, err
	}

	if !found {
		return nil, fmt.Errorf("Invalid field %q", name)
	}

	return field, nil
}

// starlarkMarshal is Incus's StarlarkMarshal.
func starlarkMarshal(input interface{}) (starlark.Value, error) {
	return marshalInto(input, nil)
}

// marshalInto converts @input; a non-nil @parent receives the fields of an
// embedded struct, which Incus flattens into the enclosing dict.
func marshalInto(input interface{}, parent *starlark.Dict) (starlark.Value, error) {
	if input == nil {
		return starlark.None, nil
	}

	if sv, ok := input.(starlark.Value); ok {
		return sv, nil
	}

	v := reflect.ValueOf(input)
	switch v.Type().Kind() {
	case reflect.String:
		return starlark.String(v.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return starlark.MakeInt(int(v.Int())), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return starlark.MakeUint(uint(v.Uint())), nil
	case reflect.Float32, reflect.Float64:
		return starlark.Float(v.Float()), nil
	case reflect.Bool:
		return starlark.Bool(v.Bool()), nil
	case reflect.Array, reflect.Slice:
		return marshalList(v)
	case reflect.Map:
		return marshalMap(v)
	case reflect.Struct:
		return marshalStruct(v, parent)
	case reflect.Ptr:
		if v.IsZero() {
			return starlark.None, nil
		}

		return starlarkMarshal(v.Elem().Interface())
	}

	return nil, fmt.Errorf("Unrecognised type %v for value %+v", v.Type(), v.Interface())
}

// marshalList converts a slice. Incus turns byte slices into Starlark bytes,
// a type this 2021 interpreter lacks; nothing the runner marshals has one.
func marshalList(v reflect.Value) (starlark.Value, error) {
	if v.Type().Elem().Kind() == reflect.Uint8 {
		return nil, fmt.Errorf("bytes are not supported by this Starlark interpreter")
	}

	elems := make([]starlark.Value, 0, v.Len())
	for i := 0; i < v.Len(); i++ {
		lv, err := starlarkMarshal(v.Index(i).Interface())
		if err != nil {
			return nil, err
		}

		elems = append(elems, lv)
	}

	return starlark.NewList(elems), nil
}

// marshalMap converts a map with string keys into a dict, keys sorted (the
// insertion order is what iteration over the dict shows).
func marshalMap(v reflect.Value) (starlark.Value, error) {
	keys := v.MapKeys()
	d := starlark.NewDict(len(keys))

	if v.Type().Key().Kind() != reflect.String {
		return nil, fmt.Errorf("Only string keys are supported, found %s", v.Type().Key().Kind())
	}

	sort.Slice(keys, func(i, j int) bool {
		return keys[i].String() < keys[j].String()
	})

	for _, k := range keys {
		dv, err := starlarkMarshal(v.MapIndex(k).Interface())
		if err != nil {
			return nil, err
		}

		err = d.SetKey(starlark.String(k.String()), dv)
		if err != nil {
			return nil, fmt.Errorf("Failed setting map key %q to %v: %w", k.String(), dv, err)
		}
	}

	return d, nil
}

// marshalStruct converts a struct's exported fields, named by their json
// tags; only the top-level struct becomes a starlarkObject.
func marshalStruct(v reflect.Value, parent *starlark.Dict) (starlark.Value, error) {
	d := parent
	if d == nil {
		d = starlark.NewDict(v.NumField())
	}

	for i := 0; i < v.NumField(); i++ {
		err := marshalField(v.Type().Field(i), v.Field(i), d)
		if err != nil {
			return nil, err
		}
	}

	if parent != nil {
		return d, nil
	}

	return &starlarkObject{d: d, typeName: v.Type().Name()}, nil
}

// marshalField sets one struct field in @d; time.Time and other structs
// without exported fields become empty dicts, as in Incus.
func marshalField(field reflect.StructField, value reflect.Value, d *starlark.Dict) error {
	if field.PkgPath != "" {
		return nil // unexported
	}

	if field.Anonymous && value.Kind() == reflect.Struct {
		_, err := marshalInto(value.Interface(), d)
		return err
	}

	dv, err := starlarkMarshal(value.Interface())
	if err != nil {
		return err
	}

	key := strings.Split(field.Tag.Get("json"), ",")[0]
	if key == "" {
		key = field.Name
	}

	err = d.SetKey(starlark.String(key), dv)
	if err != nil {
		return fmt.Errorf("Failed setting struct field %q to %v: %w", key, dv, err)
	}

	return nil
}

// starlarkUnmarshal is Incus's StarlarkUnmarshal: None, bool, int, float,
// string, list and dict only (Incus also takes bytes, which this interpreter
// does not have).
func starlarkUnmarshal(input starlark.Value) (interface{}, error) {
	switch v := input.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		result, _ := v.Int64()
		return result, nil
	case starlark.Float:
		return float64(v), nil
	case starlark.String:
		return string(v), nil
	case *starlark.List:
		return unmarshalList(v)
	case *starlark.Dict:
		return unmarshalDict(v)
	}

	return nil, fmt.Errorf("Unsupported type: %T", input)
}

// unmarshalList converts a list element by element.
func unmarshalList(v *starlark.List) (interface{}, error) {
	result := make([]interface{}, v.Len())
	for i := 0; i < v.Len(); i++ {
		value, err := starlarkUnmarshal(v.Index(i))
		if err != nil {
			return nil, err
		}

		result[i] = value
	}

	return result, nil
}

// unmarshalDict converts a dict with string keys.
func unmarshalDict(v *starlark.Dict) (interface{}, error) {
	result := make(map[string]interface{})
	for _, kv := range v.Items() {
		key, ok := starlark.AsString(kv[0])
		if !ok {
			return nil, fmt.Errorf("Only string keys are supported, found %s", kv[0].Type())
		}

		value, err := starlarkUnmarshal(kv[1])
		if err != nil {
			return nil, err
		}

		result[key] = value
	}

	return result, nil
}
