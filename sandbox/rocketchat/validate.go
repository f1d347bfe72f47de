package rocketchat

import (
	"fmt"
	"sort"
	"strconv"
)

// ---------------------------------------------------------------------------
// ajv-style validation (rest-typings schemas, additionalProperties:false).

type propKind int

const (
	kString propKind = iota
	kObject
	kBoolean
	kAny
)

type schemaProp struct {
	name     string
	kind     propKind
	nullable bool
	sub      *schema
}

type schema struct {
	props      []schemaProp
	required   []string
	additional bool
}

func (sc *schema) prop(name string) *schemaProp {
	for i := range sc.props {
		if sc.props[i].name == name {
			return &sc.props[i]
		}
	}
	return nil
}

// validate checks v like ajv v8 without allErrors would: keyword order is
// required → additionalProperties → properties, first error wins. It mutates v
// for type coercion.
//
// Spec gap: Rocket.Chat's rest-typings ajv instance is created with
// coerceTypes:true, so numbers/booleans (and null) given for string properties
// are coerced to strings instead of rejected; the emulator does the same.
func (sc *schema) validate(v map[string]any) (string, bool) {
	for _, r := range sc.required {
		if _, ok := v[r]; !ok {
			return fmt.Sprintf("must have required property '%s'", r), false
		}
	}
	if !sc.additional {
		for k := range v {
			if sc.prop(k) == nil {
				return "must NOT have additional properties", false
			}
		}
	}
	for _, p := range sc.props {
		val, ok := v[p.name]
		if !ok {
			continue
		}
		if val == nil && p.nullable {
			continue
		}
		switch p.kind {
		case kString:
			switch x := val.(type) {
			case string:
			case float64:
				v[p.name] = strconv.FormatFloat(x, 'f', -1, 64)
			case bool:
				v[p.name] = strconv.FormatBool(x)
			case nil:
				v[p.name] = ""
			default:
				return "must be string", false
			}
		case kBoolean:
			switch x := val.(type) {
			case bool:
			case string:
				switch x {
				case "true":
					v[p.name] = true
				case "false", "":
					v[p.name] = false
				default:
					return "must be boolean", false
				}
			default:
				return "must be boolean", false
			}
		case kObject:
			m, ok := val.(map[string]any)
			if !ok {
				return "must be object", false
			}
			if p.sub != nil {
				if msg, ok := p.sub.validate(m); !ok {
					return msg, false
				}
			}
		}
	}
	return "", true
}

// validateLegacy is the legacy `validateParams` route style:
// Meteor.Error('invalid-params', msg) → "msg [invalid-params]".
func validateLegacy(sc *schema, v map[string]any) error {
	if msg, ok := sc.validate(v); !ok {
		return meteorErr("invalid-params", msg)
	}
	return nil
}

// queryMap turns query values into a JSON-like map (first value of each key).
func queryMap(q map[string][]string) map[string]any {
	m := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) > 0 {
			m[k] = vs[0]
		} else {
			m[k] = ""
		}
	}
	return m
}

func strSchema(required []string, names ...string) *schema {
	sc := &schema{required: required}
	for _, n := range names {
		sc.props = append(sc.props, schemaProp{name: n, kind: kString})
	}
	return sc
}

var (
	schemaPostMessage = &schema{
		props: []schemaProp{
			{name: "token", kind: kString},
			{name: "rid", kind: kString},
			{name: "msg", kind: kString},
			{name: "_id", kind: kString, nullable: true},
			{name: "agent", kind: kObject, nullable: true, sub: strSchema([]string{"agentId", "username"}, "agentId", "username")},
		},
		required: []string{"token", "rid", "msg"},
	}
	schemaPutMessage    = strSchema([]string{"token", "rid", "msg"}, "token", "rid", "msg")
	schemaDeleteMessage = strSchema([]string{"token", "rid"}, "token", "rid")
	schemaGetMessage    = strSchema([]string{"token", "rid"}, "token", "rid")
	schemaRoomClose     = strSchema([]string{"rid", "token"}, "rid", "token")
	schemaConfigQuery   = strSchema(nil, "token", "department", "businessUnit")
	schemaDeptQuery     = strSchema(nil, "text", "onlyMyDepartments", "enabled", "excludeDepartmentId",
		"showArchived", "count", "offset", "sort", "query", "fields")
	schemaCloseByUser = &schema{
		props: []schemaProp{
			{name: "rid", kind: kString},
			{name: "comment", kind: kString},
			{name: "tags", kind: kAny},
			{name: "generateTranscriptPdf", kind: kBoolean},
			{name: "transcriptEmail", kind: kAny},
		},
		required: []string{"rid"},
	}
)

// ---------------------------------------------------------------------------
// Meteor check() subset (Match errors have no error code → no errorType).

type matchErr struct{ msg, path string }

func (m *matchErr) Error() string {
	if m.path == "" {
		return "Match error: " + m.msg
	}
	return "Match error: " + m.msg + " in field " + m.path
}

func prependPath(key, base string) string {
	if base == "" {
		return key
	}
	if base[0] == '[' {
		return key + base
	}
	return key + "." + base
}

// checkProp describes one key of a Meteor object pattern.
type checkProp struct {
	name     string
	optional bool // Match.Maybe / Match.Optional
	check    func(v any) *matchErr
}

// checkObject mirrors check(value, {…}) / Match.ObjectIncluding({…}).
func checkObject(v any, props []checkProp, including bool) *matchErr {
	m, ok := v.(map[string]any)
	if !ok {
		return &matchErr{msg: "Expected object, got " + jsType(v)}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // JS key order is lost when decoding; pick a stable one
	seen := map[string]bool{}
	for _, k := range keys {
		var p *checkProp
		for i := range props {
			if props[i].name == k {
				p = &props[i]
			}
		}
		if p == nil {
			if !including {
				return &matchErr{msg: "Unknown key", path: k}
			}
			continue
		}
		seen[k] = true
		val := m[k]
		if p.optional && val == nil {
			continue
		}
		if e := p.check(val); e != nil {
			e.path = prependPath(k, e.path)
			return e
		}
	}
	for _, p := range props {
		if !p.optional && !seen[p.name] {
			return &matchErr{msg: fmt.Sprintf("Missing key '%s'", p.name)}
		}
	}
	return nil
}

func checkString(v any) *matchErr {
	if _, ok := v.(string); ok {
		return nil
	}
	return &matchErr{msg: "Expected string, got " + jsType(v)}
}

func checkBoolean(v any) *matchErr {
	if _, ok := v.(bool); ok {
		return nil
	}
	return &matchErr{msg: "Expected boolean, got " + jsType(v)}
}

func checkArrayOf(elem func(any) *matchErr) func(any) *matchErr {
	return func(v any) *matchErr {
		arr, ok := v.([]any)
		if !ok {
			return &matchErr{msg: "Expected array, got " + string(mustMarshal(v))}
		}
		for i, e := range arr {
			if me := elem(e); me != nil {
				me.path = prependPath("["+strconv.Itoa(i)+"]", me.path)
				return me
			}
		}
		return nil
	}
}

// checkVisitorBody is the 7.x check() of POST livechat/visitor.
func checkVisitorBody(body map[string]any) error {
	customField := func(v any) *matchErr {
		return checkObject(v, []checkProp{
			{name: "key", check: checkString},
			{name: "value", check: checkString},
			{name: "overwrite", check: checkBoolean},
		}, true)
	}
	visitor := func(v any) *matchErr {
		return checkObject(v, []checkProp{
			{name: "token", check: checkString},
			{name: "name", optional: true, check: checkString},
			{name: "email", optional: true, check: checkString},
			{name: "department", optional: true, check: checkString},
			{name: "phone", optional: true, check: checkString},
			{name: "username", optional: true, check: checkString},
			{name: "customFields", optional: true, check: checkArrayOf(customField)},
		}, true)
	}
	if e := checkObject(body, []checkProp{{name: "visitor", check: visitor}}, false); e != nil {
		return plainErr(e.Error())
	}
	return nil
}

// checkRoomQuery is the check() of GET livechat/room (CE: no extra keys).
func checkRoomQuery(q map[string]any) error {
	if e := checkObject(q, []checkProp{
		{name: "token", check: checkString},
		{name: "rid", optional: true, check: checkString},
		{name: "agentId", optional: true, check: checkString},
	}, false); e != nil {
		return plainErr(e.Error())
	}
	return nil
}

// checkUploadFields is sendFileLivechatMessage's check(msgData, {...}).
func checkUploadFields(fields map[string]any) error {
	if e := checkObject(fields, []checkProp{
		{name: "avatar", optional: true, check: checkString},
		{name: "emoji", optional: true, check: checkString},
		{name: "alias", optional: true, check: checkString},
		{name: "groupable", optional: true, check: checkBoolean},
		{name: "msg", optional: true, check: checkString},
	}, false); e != nil {
		return plainErr(e.Error())
	}
	return nil
}
