//! More templates expanded by the real Prometheus 2.42 (as in [`super::promtool`]): printf's
//! flags, argument indexes and `%#v`, trim markers across lines, case mapping, regex
//! replacement around empty matches, parse errors. Left out: `print` of a query result (Go
//! prints the samples' addresses) and a field of an `interface {}` map value (Go names the
//! static type, `interface {}`, where this engine names the value's).

use super::assert_as_promtool;

const CASES: &[(&str, &str)] = &[
    (r#"{{ printf "%[1]d %[1]d" 5 }}"#, r"5 5"),
    (r#"{{ printf "%[2]s %[1]s" "a" "b" }}"#, r"b a"),
    (
        r#"{{ printf "%08.3f|%-08d|%+08d|%x|%X|% X" 3.14159 42 42 -1.5 "hé" "hi" }}"#,
        r"0003.142|42      |+0000042|-0x1.8p+00|68C3A9|68 69",
    ),
    (
        r#"{{ printf "%.3s|%5.1s|%c|%q|%U|%#U|%#v|%#v|%#v" "héllo" "xyz" 0x263A 65 0x1F600 0x2603 "s" 1.5 $labels }}"#,
        r#"hél|    x|☺|'A'|U+1F600|U+2603 '☃'|"s"|1.5|map[string]string{"__name__":"up", "instance":"host:9090", "job":"j"}"#,
    ),
    (
        r#"{{ printf "%v %v %v" 1e21 123456.0 1234567.0 }}|{{ 1e21 }}|{{ 0.000001 }}|{{ 100000000.0 }}"#,
        r"1e+21 123456 1.234567e+06|1e+21|1e-06|1e+08",
    ),
    (
        r#"{{ humanize -0.0 }}|{{ humanize "1e400" }}|{{ humanize1024 1023.9999 }}|{{ humanize 999.99999 }}|{{ humanize 0.00099999 }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:135: executing "__alert_A" at <humanize "1e400">: error calling humanize: strconv.ParseFloat: parsing "1e400": value out of range>"#,
    ),
    (
        r"{{ humanizeDuration 59.99999 }}|{{ humanizeDuration 86399.9 }}|{{ humanizeDuration 1e-30 }}|{{ humanizePercentage 0.000012345 }}",
        r"60s|23h 59m 59s|1e-06ys|0.001234%",
    ),
    (
        r#"{{ "straße İx ǆ" | toUpper }}|{{ "ÀÉ İ" | toLower }}|{{ "élan ñu" | title }}"#,
        r"STRAßE İX Ǆ|àé i|Élan Ñu",
    ),
    (
        r#"{{ range $k, $v := (args 1 "a" 2.5) }}{{ $k }}={{ $v }} {{ else }}none{{ end }}|{{ range (args) }}x{{ else }}none{{ end }}"#,
        r"arg0=1 arg1=a arg2=2.5 |none",
    ),
    (
        r"{{ with $x := 5 }}{{ $x }}{{ end }}|{{ if $y := 0 }}a{{ else }}{{ $y }}{{ end }}",
        r"5|0",
    ),
    (
        r#"{{ range $i := query "metric" }}{{ $i.Value }}{{ end }}"#,
        r"2111",
    ),
    (
        r"{{ range $i, $e := $labels }}{{ $i }}{{ end }}",
        r"__name__instancejob",
    ),
    (r#"{{ 3 | printf "%d-%d" 2 }}"#, r"2-3"),
    (r"{{- /* c */ -}}", r""),
    (r"  {{- 1 -}}  ", r"1"),
    (r#"{{ "a" }}{{- /* x */}}  {{ "b" }}"#, r"a  b"),
    (r"{{ if 1 -}}", r"template: __alert_A:1: unexpected EOF"),
    (r"  yes", r"  yes"),
    (r"{{- end }}", r"template: __alert_A:1: unexpected {{end}}"),
    (r"{{1}}{{- 2}}{{-3}}", r"12-3"),
    (
        r#"{{ $labels.instance | printf "%q" }}|{{ printf "%s" (index $labels "__name__") }}"#,
        r#""host:9090"|up"#,
    ),
    (
        r#"{{ index (args "x") "arg0" }}|{{ index (args "x") "missing" }}|{{ print (index (args "x") "missing") }}"#,
        r"x|<no value>|<nil>",
    ),
    (
        r"{{ $labels.instance.foo }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:122: executing "__alert_A" at <$labels.instance.foo>: can't evaluate field foo in type string>"#,
    ),
    (r#"{{ len (query "metric" | first).Labels }}"#, r"2"),
    (r#"{{ (query "metric" | first).Labels.instance }}"#, r"b"),
    (
        r#"{{ (query "metric" | first).Foo }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:133: executing "__alert_A" at <first>: can't evaluate field Foo in type *template.sample>"#,
    ),
    (
        r"{{ not }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <not>: wrong number of args for not: want 1 got 0>"#,
    ),
    (
        r"{{ eq 1 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <eq 1>: error calling eq: missing argument for comparison>"#,
    ),
    (
        r#"{{ eq 1 2 3 1 }}|{{ ne 1 2 }}|{{ eq "a" (print "a") }}|{{ eq (query "metric" | first) (query "metric" | first) }}"#,
        r"true|true|true|false",
    ),
    (
        r#"{{ lt "a" "b" }}|{{ gt 2.5 1.5 }}|{{ le "b" "a" }}|{{ ge 3 3 }}"#,
        r"true|true|false|true",
    ),
    (
        r"{{ and 1 (len 3) }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:122: executing "__alert_A" at <len 3>: error calling len: len of type int>"#,
    ),
    (r"{{ or 1 (len 3) }}", r"1"),
    (
        r#"{{ html $labels }}|{{ js $value }}|{{ urlquery 1 "a b" }}"#,
        r"map[__name__:up instance:host:9090 job:j]|3.5|1a+b",
    ),
    (
        r#"{{ slice "abc" 2 1 }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1>"#,
    ),
    (
        r"{{ slice $labels 1 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <slice $labels 1>: error calling slice: can't slice item of type map[string]string>"#,
    ),
    (
        r#"{{ printf "%s" (safeHtml "<b>") }}|{{ safeHtml "<b>" }}|{{ printf "%T" (safeHtml "x") }}|{{ len (safeHtml "ab") }}"#,
        r"<b>|<b>|template.HTML|2",
    ),
    (
        r#"{{ toTime 1.5 }}|{{ (toTime 1.5).Unix }}|{{ (toTime 1e9).Format "Jan 2, 2006 at 3:04pm (MST) Monday Mon Month" }}"#,
        r"1970-01-01 00:00:01.5 +0000 UTC|1|Sep 9, 2001 at 1:46am (UTC) Sunday Sun Month",
    ),
    (
        r#"{{ (toTime 0).UTC }}|{{ printf "%v|%s" (toTime 0) (toTime 0) }}"#,
        r"1970-01-01 00:00:00 +0000 UTC|1970-01-01 00:00:00 +0000 UTC|1970-01-01 00:00:00 +0000 UTC",
    ),
    (
        r"{{ (toTime 0).Foo }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:123: executing "__alert_A" at <0>: can't evaluate field Foo in type *time.Time>"#,
    ),
    (
        r#"{{ humanizeTimestamp 1.0001 }}|{{ humanizeTimestamp 1.999999 }}|{{ humanizeTimestamp -0.001 }}|{{ humanizeTimestamp "-1.0005" }}"#,
        r"1970-01-01 00:00:01 +0000 UTC|1970-01-01 00:00:01.999 +0000 UTC|1969-12-31 23:59:59.999 +0000 UTC|1969-12-31 23:59:59 +0000 UTC",
    ),
    (
        r#"{{ reReplaceAll "(?i)A" "b" "aAa" }}|{{ reReplaceAll "\\." "_" "a.b.c" }}|{{ reReplaceAll "(a)(b)?" "[$2|$1x|${1}x]" "ab a" }}|{{ reReplaceAll "^" "X" "ab" }}|{{ reReplaceAll "" "-" "ab" }}|{{ reReplaceAll "b*" "-" "abc" }}"#,
        r"bbb|a_b_c|[b||ax] [||ax]|Xab|-a-b-|-a-c-",
    ),
    (
        r#"{{ match "A" "a" }}|{{ match "(?i)A" "a" }}|{{ match "\\d+" "x12" }}|{{ match "a.c" "a\nc" }}"#,
        r"false|true|true|false",
    ),
    (
        r#"{{ graphLink "a/b?c=d&e é~" }}"#,
        r"/graph?g0.expr=a%2Fb%3Fc%3Dd%26e+%C3%A9~&g0.tab=0",
    ),
    (
        r#"{{ "1.5" | humanize }}|{{ humanize true }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:138: executing "__alert_A" at <humanize true>: error calling humanize: can't convert bool to float>"#,
    ),
    (
        r"{{ humanize nil }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <humanize nil>: error calling humanize: can't convert <nil> to float>"#,
    ),
    (
        r"{{ humanize (args) }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <humanize (args)>: error calling humanize: can't convert map[string]interface {} to float>"#,
    ),
    (
        r"{{ humanize 1.5e300 }}|{{ humanize1024 1e300 }}|{{ humanize -1e-30 }}|{{ humanizeDuration -0.001 }}",
        r"1.5e+276Y|8.272e+275Yi|-1e-06y|-1ms",
    ),
    (
        r#"{{ parseDuration "1h30m" }}|{{ parseDuration "1y" }}|{{ parseDuration "100ms" }}|{{ parseDuration "" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:196: executing "__alert_A" at <parseDuration "">: error calling parseDuration: empty duration string>"#,
    ),
    (
        r#"{{ printf "%d" 9223372036854775807 }}|{{ -9223372036854775808 }}"#,
        r"9223372036854775807|-9223372036854775808",
    ),
    (
        r"{{ 9223372036854775808 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <9223372036854775808>: 9223372036854775808 overflows int>"#,
    ),
    (
        r"{{ 0x }}",
        r#"template: __alert_A:1: illegal number syntax: "0x""#,
    ),
    (
        r"{{ 1e }}",
        r#"template: __alert_A:1: illegal number syntax: "1e""#,
    ),
    (
        r"{{ 'a }}",
        r"template: __alert_A:1: unterminated character constant",
    ),
    (r"{{ .Labels.instance | }}", r"host:9090"),
    (
        r"{{ | }}",
        r#"template: __alert_A:1: unexpected "|" in command"#,
    ),
    (
        r"{{ $x := }}",
        r"template: __alert_A:1: missing value for command",
    ),
    (
        r"{{ $x = 1 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:120: executing "__alert_A" at <1>: undefined variable: $x>"#,
    ),
    (
        r"{{ range 5 }}{{ . }}{{ end }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:121: executing "__alert_A" at <5>: range can't iterate over 5>"#,
    ),
    (
        r"{{ range $value }}{{ . }}{{ end }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:121: executing "__alert_A" at <$value>: range can't iterate over 3.5>"#,
    ),
    (
        r"{{ with $z := .Labels }}{{ end }}{{ $z }}",
        r#"template: __alert_A:1: undefined variable "$z""#,
    ),
    (
        r#"{{ template "a" }}{{ define "a" }}{{ . }}{{ end }}"#,
        r"<no value>",
    ),
    (
        r#"{{ define "a" }}{{ $labels }}{{ end }}"#,
        r#"template: __alert_A:1: undefined variable "$labels""#,
    ),
    (
        r#"{{ block "a" . }}{{ .Labels.job }}{{ end }}|{{ template "a" . }}"#,
        r"j|j",
    ),
    (
        r"{{ if eq 1 1 }}a{{ else if }}b{{ end }}",
        r"template: __alert_A:1: missing value for if",
    ),
    (
        r"{{ with 1 }}a{{ else if 2 }}b{{ end }}",
        r"template: __alert_A:1: unexpected <if> in input",
    ),
    (
        r"{{ if 1 }}a{{ else }}b{{ else }}c{{ end }}",
        r"template: __alert_A:1: expected end; found {{else}}",
    ),
    (
        r"{{ continue }}",
        r"template: __alert_A:1: {{continue}} outside {{range}}",
    ),
    (
        r#"{{ range query "metric" }}{{ break 1 }}{{ end }}"#,
        r#"template: __alert_A:1: unexpected "1" in {{break}}"#,
    ),
    (
        r#"{{ printf "%v" (query "nothing") }}|{{ query "nothing" }}|{{ len (query "nothing") }}"#,
        r"[]|[]|0",
    ),
    (
        r#"{{ printf "%.0f %.1f %.2f %.3f" 0.5 0.25 1.005 2.0005 }}|{{ printf "%.0f %.0f" 1.5 2.5 }}"#,
        r"0 0.2 1.00 2.001|2 2",
    ),
    (
        r#"{{ printf "%e %E %.2e %g %G" 123456.789 0.000123 9.999 1e-7 1e-7 }}"#,
        r"1.234568e+05 1.230000E-04 1.00e+01 1e-07 1E-07",
    ),
    (
        r#"{{ printf "%5t|%-7v|%07.2f|%+v|%x" true 1 -3.5 $value 255 }}"#,
        r" true|1      |-003.50|3.5|ff",
    ),
    (
        r#"{{ printf "%d %d" 1 }}{{ printf "%!d" }}"#,
        r"1 %!d(MISSING)%!!(MISSING)d",
    ),
    (
        r#"{{ printf "%-5.1s|" "abc" }}|{{ printf "%6.2q" "abc" }}"#,
        r#"a    ||  "ab""#,
    ),
    (
        r#"{{ printf "%08s|%-08s|%08q" "ab" "ab" "ab" }}"#,
        r#"000000ab|ab      |0000"ab""#,
    ),
    (
        r#"{{ printf "%o %O %b %#b %#X" 64 64 5 5 255 }}"#,
        r"100 0o100 101 0b101 0XFF",
    ),
    (
        r#"{{ println }}|{{ println nil }}|{{ print nil nil }}|{{ print "" "" }}|{{ print 1 "" 2 }}"#,
        r"
|<nil>
|<nil> <nil>||12",
    ),
    (
        r#"{{ printf "%v" (index (args nil) "arg0") }}|{{ printf "%d" (index (args nil) "arg0") }}"#,
        r"<nil>|%!d(<nil>)",
    ),
    (
        r#"{{ len "héllo" }}|{{ index "é" 0 }}|{{ slice "héllo" 1 3 }}"#,
        r"6|195|é",
    ),
    (
        r#"{{ "a\x00b" | html }}|{{ js "\u2028\x01é\u00a0" }}"#,
        r"a�b|\u2028\u0001é\u00A0",
    ),
    (
        r"{{ if 1 -}}
  yes
{{- end }}",
        r"yes",
    ),
    (
        r"line1
{{ 1 }}
  {{- 2 }}
{{ .Foo }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:4:3: executing "__alert_A" at <.Foo>: can't evaluate field Foo in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }>"#,
    ),
];

#[test]
fn edge_cases_expand_as_in_prometheus() {
    assert_as_promtool(CASES);
}
