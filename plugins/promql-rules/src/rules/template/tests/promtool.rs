//! Templates expanded by the real Prometheus 2.42 (Debian's `promtool` 2.42.0+ds, built with
//! Go 1.19.8): each was an annotation of rule `A` (`expr: up`) in `promtool test rules`, on the
//! series `up{instance="host:9090",job="j"} 3.5`, `metric{instance="b"} 21` and
//! `metric{instance="a"} 11`; the expected text is promtool's output for it (an error as
//! Prometheus writes it into the annotation; a template that does not parse as `rulefmt`
//! refuses the rule file). Left out: `pathPrefix` (promtool has no external URL and fails
//! with a nil pointer) and a template that calls itself (Go stops at depth 100000, this
//! engine at 100).

use super::assert_as_promtool;

const CASES: &[(&str, &str)] = &[
    (r"plain text", r"plain text"),
    (r"{{ 1 }}", r"1"),
    (r"{{ $value }}", r"3.5"),
    (
        r"{{ $labels }}",
        r"map[__name__:up instance:host:9090 job:j]",
    ),
    (r"{{ $labels.instance }}:{{ .Labels.job }}", r"host:9090:j"),
    (r"{{ .Labels.missing }}|{{ $labels.missing }}", r"|"),
    (
        r"{{ .Foo }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <.Foo>: can't evaluate field Foo in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }>"#,
    ),
    (
        r"{{ $externalURL }}|{{ .ExternalURL }}|{{ $externalLabels }}",
        r"||map[]",
    ),
    (
        r"{{ print . }}",
        r"{map[__name__:up instance:host:9090 job:j] map[]  3.5}",
    ),
    (
        r#"{{ printf "%+v" . }}"#,
        r"{Labels:map[__name__:up instance:host:9090 job:j] ExternalLabels:map[] ExternalURL: Value:3.5}",
    ),
    (
        r#"{{ printf "%T" . }}"#,
        r"struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }",
    ),
    (
        r"{{ gt $value 5 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <gt $value 5>: error calling gt: incompatible types for comparison>"#,
    ),
    (
        r#"{{ gt $value 5.0 }}|{{ lt $value 5.0 }}|{{ ge $value 3.5 }}|{{ le 1 2 }}|{{ eq $value 3.5 }}|{{ ne "a" "b" }}"#,
        r"false|true|true|true|true|true",
    ),
    (r"{{ if gt $value 3.0 }}high{{ else }}low{{ end }}", r"high"),
    (
        r"{{ if lt $value 1.0 }}a{{ else if lt $value 4.0 }}b{{ else }}c{{ end }}",
        r"b",
    ),
    (
        r"{{ with $labels.job }}job={{ . }}{{ end }}{{ with $labels.nope }}x{{ else }}none{{ end }}",
        r"job=jnone",
    ),
    (
        r"{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
        r"__name__=up;instance=host:9090;job=j;",
    ),
    (r"{{ range $labels }}{{ . }},{{ end }}", r"up,host:9090,j,"),
    (
        r#"{{ range $i, $e := query "metric" }}{{ $i }}:{{ $e.Labels.instance }}={{ $e.Value }} {{ end }}"#,
        r"0:b=21 1:a=11 ",
    ),
    (
        r#"{{ range query "metric" | sortByLabel "instance" }}{{ .Labels.instance }}:{{ .Value }}: {{ end }}"#,
        r"a:11: b:21: ",
    ),
    (
        r#"{{ range query "nothing" }}x{{ else }}empty{{ end }}"#,
        r"empty",
    ),
    (
        r#"{{ query "metric{instance='a'}" | first | value }}"#,
        r"11",
    ),
    (
        r#"{{ query "metric{instance='a'}" | first | label "instance" }}"#,
        r"a",
    ),
    (
        r#"{{ with query "metric{instance='a'}" }}{{ . | first | value | humanize }}{{ end }}"#,
        r"11",
    ),
    (
        r#"{{ query "nothing" | first }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:133: executing "__alert_A" at <first>: error calling first: first() called on vector with no elements>"#,
    ),
    (
        r#"{{ (query "nothing").banana }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:122: executing "__alert_A" at <"nothing">: can't evaluate field banana in type template.queryResult>"#,
    ),
    (r#"{{ query "metric" | len }}"#, r"2"),
    (
        r#"{{ query "up" | first }}"#,
        r"{map[__name__:up instance:host:9090 job:j] 3.5}",
    ),
    (
        r#"{{ printf "%v" (query "up" | first) }}"#,
        r"&{map[__name__:up instance:host:9090 job:j] 3.5}",
    ),
    (
        r"{{ humanize 0.0 }}:{{ humanize 1.0 }}:{{ humanize 1234567.0 }}:{{ humanize .12 }}:{{ humanize -1234.5 }}:{{ humanize 0.000001234 }}",
        r"0:1:1.235M:120m:-1.234k:1.234u",
    ),
    (
        r#"{{ humanize "0.0" }}:{{ humanize "1.0" }}:{{ humanize "1234567.0" }}:{{ humanize ".12" }}"#,
        r"0:1:1.235M:120m",
    ),
    (
        r#"{{ humanize "one" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <humanize "one">: error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax>"#,
    ),
    (
        r"{{ humanize 0 }}:{{ humanize -1 }}:{{ humanize 1 }}:{{ humanize 1234567 }}:{{ humanize 9223372036854775807 }}",
        r"0:-1:1:1.235M:9.223E",
    ),
    (
        r"{{ humanize1024 0.0 }}:{{ humanize1024 1.0 }}:{{ humanize1024 1048576.0 }}:{{ humanize1024 .12 }}:{{ humanize1024 1234567 }}:{{ humanize1024 9223372036854775807 }}:{{ humanize1024 -1 }}",
        r"0:1:1Mi:0.12:1.177Mi:8Ei:-1",
    ),
    (
        r#"{{ humanize1024 "one" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <humanize1024 "one">: error calling humanize1024: strconv.ParseFloat: parsing "one": invalid syntax>"#,
    ),
    (
        r"{{ humanizeDuration 0 }}:{{ humanizeDuration 1 }}:{{ humanizeDuration 60 }}:{{ humanizeDuration 3600 }}:{{ humanizeDuration 86400 }}:{{ humanizeDuration 90000 }}:{{ humanizeDuration -183845.0 }}:{{ humanizeDuration 899.99 }}",
        r"0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s",
    ),
    (
        r"{{ humanizeDuration .1 }}:{{ humanizeDuration .0001 }}:{{ humanizeDuration .12345 }}:{{ humanizeDuration 60.1 }}:{{ humanizeDuration 60.5 }}:{{ humanizeDuration 1.2345 }}:{{ humanizeDuration 12.345 }}:{{ humanizeDuration -1 }}:{{ humanizeDuration 1234567 }}",
        r"100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:-1s:14d 6h 56m 7s",
    ),
    (
        r#"{{ humanizeDuration "one" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <humanizeDuration "one">: error calling humanizeDuration: strconv.ParseFloat: parsing "one": invalid syntax>"#,
    ),
    (
        r#"{{ humanizeDuration "0" }}:{{ humanizeDuration "60" }}:{{ humanizeDuration "86400" }}:{{ humanizeDuration 0.0 }}:{{ humanizeDuration -0.5 }}"#,
        r"0s:1m 0s:1d 0h 0m 0s:0s:-500ms",
    ),
    (
        r#"{{ humanize "+Inf" }}:{{ humanize1024 "-Inf" }}:{{ humanizeDuration "NaN" }}:{{ humanizeTimestamp "+Inf" }}:{{ humanize "inf" }}:{{ humanizePercentage "NaN" }}"#,
        r"+Inf:-Inf:NaN:+Inf:+Inf:NaN%",
    ),
    (
        r"{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}:{{ humanizePercentage 1234567 }}",
        r"-22.22%:0%:12.35%:123.5%:1.235e+08%",
    ),
    (
        r#"{{ "one" | humanizePercentage }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:123: executing "__alert_A" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing "one": invalid syntax>"#,
    ),
    (
        r#"{{ humanizeTimestamp 0 }}:{{ humanizeTimestamp -1 }}:{{ humanizeTimestamp 1234567 }}:{{ humanizeTimestamp 9223372036 }}:{{ humanizeTimestamp 1435065584.128 }}:{{ humanizeTimestamp "1435065584.128" }}"#,
        r"1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:2015-06-23 13:19:44.128 +0000 UTC:2015-06-23 13:19:44.128 +0000 UTC",
    ),
    (
        r"{{ humanizeTimestamp -9223372036854775807 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <humanizeTimestamp -9223372036854775807>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64>"#,
    ),
    (
        r"{{ humanizeTimestamp 1e300 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <humanizeTimestamp 1e300>: error calling humanizeTimestamp: 1e+300 cannot be represented as a nanoseconds timestamp since it overflows int64>"#,
    ),
    (
        r"{{ humanizeTimestamp 1.5 }}|{{ humanizeTimestamp -0.0005 }}|{{ humanizeTimestamp -1.5 }}|{{ humanizeTimestamp 253402300800 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:204: executing "__alert_A" at <humanizeTimestamp 253402300800>: error calling humanizeTimestamp: 2.534023008e+11 cannot be represented as a nanoseconds timestamp since it overflows int64>"#,
    ),
    (
        r#"{{ (1435065584.128 | toTime).Format "2006" }}|{{ ("1435065584.128" | toTime).Format "Mon Jan _2 15:04:05.000 MST 2006 -07:00 pm" }}|{{ 1435065584.128 | toTime }}"#,
        r"2015|Tue Jun 23 13:19:44.128 UTC 2015 +00:00 pm|2015-06-23 13:19:44.128 +0000 UTC",
    ),
    (
        r#"{{ (1435065584 | toTime).Format "2006-01-02T15:04:05Z07:00 .999 ,000 Monday January 3PM 06 002" }}|{{ (toTime 1435065584).Unix }}"#,
        r"2015-06-23T13:19:44Z  ,000 Tuesday June 1PM 15 174|1435065584",
    ),
    (
        r#"{{ toTime "NaN" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <toTime "NaN">: error calling toTime: value is NaN or Inf>"#,
    ),
    (
        r#"{{ "aa bb CC" | title }}|{{ "aa bb CC" | toUpper }}|{{ "aA bB CC" | toLower }}|{{ title "hello_world foo-bar x.y 1a" }}"#,
        r"Aa Bb CC|AA BB CC|aa bb cc|Hello_world Foo-Bar X.Y 1a",
    ),
    (
        r#"{{ match "a+" "aa" }} {{ match "a+" "b" }} {{ match "^a$" "ba" }}"#,
        r"true false false",
    ),
    (
        r#"{{ match "(" "a" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <match "(" "a">: error calling match: error parsing regexp: missing closing ): `(`>"#,
    ),
    (
        r#"{{ reReplaceAll "(a)b" "x$1" "ab" }}|{{ reReplaceAll "a*" "X" "baaac" }}|{{ reReplaceAll ":.*" "" "host:9090" }}|{{ reReplaceAll "(?P<h>[^:]+):(\\d+)" "${h}-$2" "host:9090" }}"#,
        r"xa|XbXcX|host|host-9090",
    ),
    (
        r#"{{ reReplaceAll "(" "x" "y" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <reReplaceAll "(" "x" "y">: error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: missing closing ): `(`>"#,
    ),
    (
        r#"{{ graphLink "up" }}|{{ tableLink "rate(x[5m]) > 0 & b" }}"#,
        r"/graph?g0.expr=up&g0.tab=0|/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+0+%26+b&g0.tab=1",
    ),
    (
        r#"{{ printf "%0.2f" (parseDuration "1h2m10ms") }}|{{ parseDuration "1d" }}|{{ parseDuration "0" }}"#,
        r"3720.01|86400|0",
    ),
    (
        r#"{{ parseDuration "1x" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <parseDuration "1x">: error calling parseDuration: not a valid duration string: "1x">"#,
    ),
    (
        r#"{{ "foo.example.com" | stripPort }}|{{ "foo.example.com:12345" | stripPort }}|{{ "192.0.2.1" | stripPort }}|{{ "192.0.2.1:12345" | stripPort }}|{{ "2001:0DB8::1" | stripPort }}|{{ "[2001:0DB8::1]:12345" | stripPort }}|{{ "[2001:0DB8::1]::12345" | stripPort }}"#,
        r"foo.example.com|foo.example.com|192.0.2.1|192.0.2.1|2001:0DB8::1|2001:0DB8::1|[2001:0DB8::1]::12345",
    ),
    (
        r#"{{ "foo.example.com" | stripDomain }}|{{ "foo.example.com:12345" | stripDomain }}|{{ "192.0.2.1" | stripDomain }}|{{ "192.0.2.1:12345" | stripDomain }}|{{ "2001:0DB8::1" | stripDomain }}|{{ "[2001:0DB8::1]:12345" | stripDomain }}|{{ "[2001:0DB8::1]::12345" | stripDomain }}"#,
        r"foo|foo:12345|192.0.2.1|192.0.2.1:12345|2001:0DB8::1|[2001:0DB8::1]:12345|[2001:0DB8::1]::12345",
    ),
    (
        r#"{{define "x"}}{{.arg0}} {{.arg1}}{{end}}{{template "x" (args 1 "2")}}"#,
        r"1 2",
    ),
    (
        r#"{{define "T"}}[{{ . }}]{{end}}{{ template "T" $value }}{{ template "T" }}{{ block "B" . }}blk{{ end }}"#,
        r"[3.5][<no value>]blk",
    ),
    (
        r#"{{ template "nope" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:124: executing "__alert_A" at <{{template "nope"}}>: template "nope" not defined>"#,
    ),
    (
        r#"{{ (args 1).arg3 }}|{{ print (args 1).arg3 }}|{{ args 1 "x" 2.5 }}"#,
        r"<no value>|<nil>|map[arg0:1 arg1:x arg2:2.5]",
    ),
    (
        r#"{{ printf "%d %s %v %5.2f|%-6s|%06d|%x|%q|%+d|%e|%g|%G|%t|%T" 3 "s" 1e6 3.14159 "ab" -42 255 "q" 5 1234.5678 0.00001 1e21 true 1.5 }}"#,
        r#"3 s 1e+06  3.14|ab    |-00042|ff|"q"|+5|1.234568e+03|1e-05|1E+21|true|float64"#,
    ),
    (
        r#"{{ printf "%d" "x" }}|{{ printf "%s" 1 }}|{{ printf "%s %s" 1 }}|{{ printf "%s" 1 2 }}|{{ printf "%" }}|{{ printf "%!" }}|{{ printf "%z" 1.5 }}"#,
        r"%!d(string=x)|%!s(int=1)|%!s(int=1) %!s(MISSING)|%!s(int=1)%!(EXTRA int=2)|%!(NOVERB)|%!!(MISSING)|%!z(float64=1.5)",
    ),
    (
        r#"{{ printf "%v" $labels }}|{{ printf "%d" $labels }}|{{ printf "%s" .Labels.missing }}|{{ printf "%v" nil }}|{{ printf "%s" nil }}|{{ printf "%q" $labels }}"#,
        r#"map[__name__:up instance:host:9090 job:j]|map[%!d(string=__name__):%!d(string=up) %!d(string=instance):%!d(string=host:9090) %!d(string=job):%!d(string=j)]||<nil>|%!s(<nil>)|map["__name__":"up" "instance":"host:9090" "job":"j"]"#,
    ),
    (
        r#"{{ printf "%.2f%%" 12.3456 }}|{{ printf "%8.3f|%-8.3f|%+.1e|% d|%x|%X|%o|%b|%c|%U|%#x|%#o" 3.14159 2.5 12345.678 5 -255 255 8 5 65 9731 255 8 }}"#,
        r"12.35%|   3.142|2.500   |+1.2e+04| 5|-ff|FF|10|101|A|U+2603|0xff|010",
    ),
    (
        r#"{{ printf "%5s|%-5s|%.2s|%05s|%q|%#q|%x|% x|%X" "ab" "ab" "abcdef" "ab" "a\"b\n" "ab" "hi" "hi" "hi" }}"#,
        r#"   ab|ab   |ab|000ab|"a\"b\n"|`ab`|6869|68 69|6869"#,
    ),
    (
        r#"{{ printf "%v %v %v %v %v %v %v" 0.1 100000.0 1000000.0 1e-5 123456789.0 1e20 -0.0 }}"#,
        r"0.1 100000 1e+06 1e-05 1.23456789e+08 1e+20 -0",
    ),
    (
        r#"{{ printf "%g %g %.3g %.10g %e %.0f %.0e %f %F" 1e100 0.000012345 1234.5678 1.0 0.0 2.5 15.0 1e-7 3.0 }}"#,
        r"1e+100 1.2345e-05 1.23e+03 1 0.000000e+00 2 2e+01 0.000000 3.000000",
    ),
    (
        r#"{{ printf "%6.2f|%06.2f|%-8.2f|%+.2f|% .2f|%+d|%x" -1.5 -1.5 1.5 1.5 1.5 -3 1.5 }}"#,
        r" -1.50|-01.50|1.50    |+1.50| 1.50|-3|0x1.8p+00",
    ),
    (
        r#"{{ printf "%v|%s|%d|%t" true true true 1 }}"#,
        r"true|%!s(bool=true)|%!d(bool=true)|%!t(int=1)",
    ),
    (
        r#"{{ printf "%*d|%-*d|%.*f" 5 42 5 42 2 3.14159 }}"#,
        r"   42|42   |3.14",
    ),
    (
        r#"{{ printf "%v %v" (humanize 1e3) $value }}|{{ printf "%s" $value }}|{{ printf "%d" $value }}"#,
        r"1k 3.5|%!s(float64=3.5)|%!d(float64=3.5)",
    ),
    (
        r#"{{ print 1 2 "a" 3 4.5 true }}|{{ println 1 "a" }}|{{ print "a" "b" }}|{{ print nil }}|{{ print }}"#,
        r"1 2a3 4.5 true|1 a
|ab|<nil>|",
    ),
    (
        r"{{ print $labels }}|{{ print $value 2 }}",
        r"map[__name__:up instance:host:9090 job:j]|3.5 2",
    ),
    (
        r#"{{ eq "a" "a" "b" }}|{{ lt 1 2 }}|{{ and 1 0 2 }}|{{ or 0 "" }}|{{ not 0 }}|{{ len "abc" }}|{{ index $labels "job" }}|{{ index "abc" 1 }}|{{ and 1 2 }}|{{ or 0 "x" }}"#,
        r"true|true|0||true|3|j|98|2|x",
    ),
    (
        r#"{{ html "<a&'\">" }}|{{ js "<a'\"\\>=&" }}|{{ urlquery "a b&c/d" }}|{{ html 1 2 }}|{{ urlquery $labels.instance }}"#,
        r#"&lt;a&amp;&#39;&#34;&gt;|\u003Ca\'\"\\\u003E\u003D\u0026|a+b%26c%2Fd|1 2|host%3A9090"#,
    ),
    (
        r"{{ eq 1 1.0 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <eq 1 1.0>: error calling eq: incompatible types for comparison>"#,
    ),
    (
        r#"{{ eq "a" 1 }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <eq "a" 1>: error calling eq: incompatible types for comparison>"#,
    ),
    (
        r"{{ lt true false }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <lt true false>: error calling lt: invalid type for comparison>"#,
    ),
    (
        r"{{ eq $labels $labels }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <eq $labels $labels>: error calling eq: non-comparable type map[__name__:up instance:host:9090 job:j]: map[string]string>"#,
    ),
    (r#"{{ eq nil nil }}|{{ eq .Labels.nope "" }}"#, r"true|true"),
    (
        r"{{ lt nil 1 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <lt nil 1>: error calling lt: invalid type for comparison>"#,
    ),
    (
        r"{{ len 3 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <len 3>: error calling len: len of type int>"#,
    ),
    (
        r"{{ index $labels 1 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <index $labels 1>: error calling index: value has type int; should be string>"#,
    ),
    (
        r#"{{ index "abc" 5 }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <index "abc" 5>: error calling index: index out of range: 5>"#,
    ),
    (r#"{{ slice "abcdef" 1 3 }}|{{ slice "abc" 1 }}"#, r"bc|bc"),
    (
        r"{{ 0x1F }} {{ 1e3 }} {{ 0o17 }} {{ 1_000 }} {{ 'a' }} {{ -0.0 }} {{ 017 }} {{ .5 }} {{ 0x1p4 }} {{ -7 }} {{ +3 }}",
        r"31 1000 15 1000 97 -0 15 0.5 16 -7 3",
    ),
    (
        r"{{ 99999999999999999999 }}",
        r#"template: __alert_A:1: integer overflow: "99999999999999999999""#,
    ),
    (
        r"{{ 1.5.5 }}",
        r#"template: __alert_A:1: unexpected ".5" in operand"#,
    ),
    (r#"{{ "a\tb\u00e9\x41" }}|{{ `raw\n` }}"#, r"a	béA|raw\n"),
    (
        r#"{{- " trim " -}}   x   {{- 1 }}  {{ 2 -}}  "#,
        r" trim x1  2",
    ),
    (r"a  {{- /* comment */ -}}  b{{/* c2 */}}c", r"abc"),
    (
        r"{{ $x := 1 }}{{ $x }}{{ $x = 2 }}{{ $x }}{{ if true }}{{ $x = 3 }}{{ $y := 4 }}{{ end }}{{ $x }}",
        r"123",
    ),
    (
        r#"{{ range $i, $v := query "metric" }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $i }}{{ end }}|{{ range $i, $v := query "metric" }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $i }}{{ end }}"#,
        r"0|1",
    ),
    (
        r"{{ range $k, $v := $labels }}{{ $k }}{{ end }}{{ $k }}",
        r#"template: __alert_A:1: undefined variable "$k""#,
    ),
    (
        r"{{ foo }}",
        r#"template: __alert_A:1: function "foo" not defined"#,
    ),
    (
        r#"{{ .Labels.instance | toUpper | printf "%s!" }}"#,
        r"HOST:9090!",
    ),
    (
        r#"{{ "x" | 1 }}"#,
        r"template: __alert_A:1: non executable command in pipeline stage 2",
    ),
    (
        r"{{ 1 2 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <1>: can't give argument to non-function 1>"#,
    ),
    (
        r"{{ $value 2 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <$value>: can't give argument to non-function $value>"#,
    ),
    (
        r"{{ .Labels.job 2 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:122: executing "__alert_A" at <.Labels.job>: job is not a method but has arguments>"#,
    ),
    (
        r"{{ nil }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <nil>: nil is not a command>"#,
    ),
    (
        r"{{ humanize }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <humanize>: wrong number of args for humanize: want 1 got 0>"#,
    ),
    (
        r"{{ humanize 1 2 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <humanize>: wrong number of args for humanize: want 1 got 2>"#,
    ),
    (
        r"{{ toUpper 1 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:123: executing "__alert_A" at <1>: expected string; found 1>"#,
    ),
    (
        r"{{ toUpper $value }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:123: executing "__alert_A" at <$value>: wrong type for value; expected string; got float64>"#,
    ),
    (
        r#"{{ "x" | safeHtml | toUpper }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:132: executing "__alert_A" at <toUpper>: wrong type for value; expected string; got template.HTML>"#,
    ),
    (
        r"{{ label 1 2 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:121: executing "__alert_A" at <1>: expected string; found 1>"#,
    ),
    (
        r#"{{ first "x" }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:121: executing "__alert_A" at <"x">: can't handle "x" for arg of type template.queryResult>"#,
    ),
    (
        r"{{ first nil }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <first nil>: error calling first: first() called on vector with no elements>"#,
    ),
    (
        r#"{{ label "a" nil }}"#,
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <label "a" nil>: error calling label: runtime error: invalid memory address or nil pointer dereference>"#,
    ),
    (
        r"{{ value .Labels }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:121: executing "__alert_A" at <.Labels>: wrong type for value; expected *template.sample; got map[string]string>"#,
    ),
    (
        r"{{ if }}{{ end }}",
        r"template: __alert_A:1: missing value for if",
    ),
    (r"{{ end }}", r"template: __alert_A:1: unexpected {{end}}"),
    (r"{{ else }}", r"template: __alert_A:1: unexpected {{else}}"),
    (r"{{ if 1 }}", r"template: __alert_A:1: unexpected EOF"),
    (
        r"{{ range $a, $b, $c := . }}{{ end }}",
        r"template: __alert_A:1: too many declarations in range",
    ),
    (
        r"{{ break }}",
        r"template: __alert_A:1: {{break}} outside {{range}}",
    ),
    (r"{{ ( 1 }}", r"template: __alert_A:1: unclosed left paren"),
    (
        r"{{ 1 ) }}",
        r#"template: __alert_A:1: unexpected ")" in command"#,
    ),
    (
        r"{{ $x }}",
        r#"template: __alert_A:1: undefined variable "$x""#,
    ),
    (
        r#"{{ "unterminated }}"#,
        r"template: __alert_A:1: unterminated quoted string",
    ),
    (
        r"{{ 'ab' }}",
        r"template: __alert_A:1: malformed character constant: 'ab'",
    ),
    (
        r"{{ .Labels.job.x }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:122: executing "__alert_A" at <.Labels.job.x>: can't evaluate field x in type string>"#,
    ),
    (
        r"{{ $value.x }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:121: executing "__alert_A" at <$value.x>: can't evaluate field x in type float64>"#,
    ),
    (
        r"{{ .Labels.nope.x }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:122: executing "__alert_A" at <.Labels.nope.x>: can't evaluate field x in type string>"#,
    ),
    (
        r#"{{ with .Value }}{{ . }}{{ end }}|{{ .Value | printf "%.1f" }}"#,
        r"3.5|3.5",
    ),
    (
        r#"{{ define "a" }}A{{ end }}{{ define "a" }}B{{ end }}"#,
        r#"template: __alert_A:1: template: multiple definition of template "a""#,
    ),
    (
        r#"{{ if and (gt $value 1.0) (lt $value 10.0) }}in{{ end }}|{{ if or (eq $labels.job "x") (eq $labels.job "j") }}j{{ end }}"#,
        r"in|j",
    ),
    (
        r"{{ and }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <and>: wrong number of args for and: want at least 1 got 0>"#,
    ),
    (
        r"{{ printf }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <printf>: wrong number of args for printf: want at least 1 got 0>"#,
    ),
    (
        r"{{ printf 1 }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:1:122: executing "__alert_A" at <1>: expected string; found 1>"#,
    ),
    (r#"{{ $labels.instance | reReplaceAll ":.*" "" }}"#, r"host"),
    (r#"{{ `a` | printf "%s%s" "b" }}"#, r"ba"),
    (
        r"{{ index $labels }}",
        r"map[__name__:up instance:host:9090 job:j]",
    ),
    (r#"{{ (index (query "metric") 0).Value }}"#, r"21"),
    (
        r#"{{ printf "%s" (query "metric" | first) }}"#,
        r"&{map[__name__:metric instance:b] %!s(float64=21)}",
    ),
    (
        r"{{ len $labels }}|{{ len (args) }}|{{ len (args 1 2) }}",
        r"3|0|2",
    ),
    (
        r#"{{ "\u00a0" }}|{{ printf "%q" "\u00a0\u200b\x7f" }}|{{ printf "%+q" "é" }}|{{ printf "%x" "é" }}"#,
        r#" |"\u00a0\u200b\x7f"|"\u00e9"|c3a9"#,
    ),
    (
        r"{{ }}",
        r"template: __alert_A:1: unrecognized character in action: U+00A0",
    ),
    (
        r"{{ 1 }}
{{ .Foo }}",
        r#"<error expanding template: error executing template __alert_A: template: __alert_A:2:3: executing "__alert_A" at <.Foo>: can't evaluate field Foo in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }>"#,
    ),
    (
        r"{{ if true }}
{{ foo }}{{ end }}",
        r#"template: __alert_A:2: function "foo" not defined"#,
    ),
];

#[test]
fn templates_expand_as_in_prometheus() {
    assert_as_promtool(CASES);
}
