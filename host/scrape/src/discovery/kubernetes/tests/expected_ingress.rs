//! What Prometheus 2.42's `discovery/kubernetes/ingress_test.go` (`expectedTargetGroups`)
//! expects for the ingresses recorded in `testdata/ingress*.json`, transcribed label for
//! label: `makeIngress`'s three rules, the second without paths and so without targets.

use super::expected::Expected;

/// `expectedTargetGroups(ns, tls)`: `$scheme1` for `example.com`'s two paths, `$scheme2`
/// for `test.example.com`'s empty path.
macro_rules! ingress_group {
    ($ns:literal, $scheme1:literal, $scheme2:literal) => {
        (
            concat!("ingress/", $ns, "/testingress"),
            &[
                ("__meta_kubernetes_ingress_name", "testingress"),
                ("__meta_kubernetes_namespace", $ns),
                ("__meta_kubernetes_ingress_label_test_label", "testvalue"),
                ("__meta_kubernetes_ingress_labelpresent_test_label", "true"),
                (
                    "__meta_kubernetes_ingress_annotation_test_annotation",
                    "testannotationvalue",
                ),
                (
                    "__meta_kubernetes_ingress_annotationpresent_test_annotation",
                    "true",
                ),
                ("__meta_kubernetes_ingress_class_name", "testclass"),
            ],
            &[
                &[
                    ("__meta_kubernetes_ingress_scheme", $scheme1),
                    ("__meta_kubernetes_ingress_host", "example.com"),
                    ("__meta_kubernetes_ingress_path", "/"),
                    ("__address__", "example.com"),
                ],
                &[
                    ("__meta_kubernetes_ingress_scheme", $scheme1),
                    ("__meta_kubernetes_ingress_host", "example.com"),
                    ("__meta_kubernetes_ingress_path", "/foo"),
                    ("__address__", "example.com"),
                ],
                &[
                    ("__meta_kubernetes_ingress_scheme", $scheme2),
                    ("__meta_kubernetes_ingress_host", "test.example.com"),
                    ("__address__", "test.example.com"),
                    ("__meta_kubernetes_ingress_path", "/"),
                ],
            ],
        )
    };
}

pub(super) const INGRESS_NO_TLS: &[Expected] = &[ingress_group!("default", "http", "http")];
pub(super) const INGRESS_TLS: &[Expected] = &[ingress_group!("default", "https", "https")];
pub(super) const INGRESS_TLS_MIXED: &[Expected] = &[ingress_group!("default", "https", "http")];
pub(super) const INGRESS_TLS_WILDCARD: &[Expected] = &[ingress_group!("default", "http", "https")];
pub(super) const INGRESS_NAMESPACES: &[Expected] = &[
    ingress_group!("ns1", "http", "http"),
    ingress_group!("ns2", "http", "http"),
];
