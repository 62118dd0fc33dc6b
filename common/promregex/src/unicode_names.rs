//! The names Go accepts in `\p{...}`, and the spelling the regex crate knows each by.
//!
//! Go (1.25 and later) looks a name up ignoring case, `_`, `-` and spaces among: `Any`,
//! `ASCII`, `Assigned`, the general categories by short name (`Lu`, `LC`, `Cn`) or alias
//! (`Uppercase_Letter`, `digit`), and the scripts (`Greek`, `Old_Italic`). The regex crate is
//! looser (it strips an `is` prefix, knows script codes like `Grek`, boolean properties, and
//! `name=value` forms when built with more features, as the host is), so names are checked
//! here, and the regex crate is handed one it reads the same way under any feature set.
//!
//! The script list is the regex crate's (Unicode 16): a script added by Unicode 16 is accepted
//! where a Go built on Unicode 15 would refuse it. `Cs`/`Surrogate` (matching nothing in UTF-8)
//! has no table in the regex crate and is refused.

/// General category aliases (Unicode's PropertyValueAliases) to the regex crate's name.
const CATEGORIES: &[(&str, &str)] = &[
    ("C", "Other"),
    ("Other", "Other"),
    ("Cc", "Control"),
    ("Control", "Control"),
    ("cntrl", "Control"),
    ("Cf", "Format"),
    ("Format", "Format"),
    ("Cn", "Unassigned"),
    ("Unassigned", "Unassigned"),
    ("Co", "Private_Use"),
    ("Private_Use", "Private_Use"),
    ("L", "Letter"),
    ("Letter", "Letter"),
    ("LC", "Cased_Letter"),
    ("Cased_Letter", "Cased_Letter"),
    ("Ll", "Lowercase_Letter"),
    ("Lowercase_Letter", "Lowercase_Letter"),
    ("Lm", "Modifier_Letter"),
    ("Modifier_Letter", "Modifier_Letter"),
    ("Lo", "Other_Letter"),
    ("Other_Letter", "Other_Letter"),
    ("Lt", "Titlecase_Letter"),
    ("Titlecase_Letter", "Titlecase_Letter"),
    ("Lu", "Uppercase_Letter"),
    ("Uppercase_Letter", "Uppercase_Letter"),
    ("M", "Mark"),
    ("Mark", "Mark"),
    ("Combining_Mark", "Mark"),
    ("Mc", "Spacing_Mark"),
    ("Spacing_Mark", "Spacing_Mark"),
    ("Me", "Enclosing_Mark"),
    ("Enclosing_Mark", "Enclosing_Mark"),
    ("Mn", "Nonspacing_Mark"),
    ("Nonspacing_Mark", "Nonspacing_Mark"),
    ("N", "Number"),
    ("Number", "Number"),
    ("Nd", "Decimal_Number"),
    ("Decimal_Number", "Decimal_Number"),
    ("digit", "Decimal_Number"),
    ("Nl", "Letter_Number"),
    ("Letter_Number", "Letter_Number"),
    ("No", "Other_Number"),
    ("Other_Number", "Other_Number"),
    ("P", "Punctuation"),
    ("Punctuation", "Punctuation"),
    ("punct", "Punctuation"),
    ("Pc", "Connector_Punctuation"),
    ("Connector_Punctuation", "Connector_Punctuation"),
    ("Pd", "Dash_Punctuation"),
    ("Dash_Punctuation", "Dash_Punctuation"),
    ("Pe", "Close_Punctuation"),
    ("Close_Punctuation", "Close_Punctuation"),
    ("Pf", "Final_Punctuation"),
    ("Final_Punctuation", "Final_Punctuation"),
    ("Pi", "Initial_Punctuation"),
    ("Initial_Punctuation", "Initial_Punctuation"),
    ("Po", "Other_Punctuation"),
    ("Other_Punctuation", "Other_Punctuation"),
    ("Ps", "Open_Punctuation"),
    ("Open_Punctuation", "Open_Punctuation"),
    ("S", "Symbol"),
    ("Symbol", "Symbol"),
    ("Sc", "Currency_Symbol"),
    ("Currency_Symbol", "Currency_Symbol"),
    ("Sk", "Modifier_Symbol"),
    ("Modifier_Symbol", "Modifier_Symbol"),
    ("Sm", "Math_Symbol"),
    ("Math_Symbol", "Math_Symbol"),
    ("So", "Other_Symbol"),
    ("Other_Symbol", "Other_Symbol"),
    ("Z", "Separator"),
    ("Separator", "Separator"),
    ("Zl", "Line_Separator"),
    ("Line_Separator", "Line_Separator"),
    ("Zp", "Paragraph_Separator"),
    ("Paragraph_Separator", "Paragraph_Separator"),
    ("Zs", "Space_Separator"),
    ("Space_Separator", "Space_Separator"),
    ("Any", "Any"),
    ("ASCII", "ASCII"),
    ("Assigned", "Assigned"),
];

/// Unicode's script names, as Go's `unicode.Scripts` and the regex crate spell them.
const SCRIPTS: &str = "Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum \
    Bassa_Vah Batak Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal \
    Carian Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot \
    Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs \
    Elbasan Elymaic Ethiopic Garay Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi \
    Gurmukhi Gurung_Khema Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana \
    Imperial_Aramaic Inherited Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi \
    Kannada Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Kirat_Rai \
    Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic \
    Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive \
    Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari \
    New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Ol_Onal Old_Hungarian \
    Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic \
    Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician \
    Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala \
    Sogdian Sora_Sompeng Soyombo Sundanese Sunuwar Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le \
    Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Todhri \
    Toto Tulu_Tigalari Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square";

/// The regex crate's name for the class Go calls `name`, if Go knows it.
pub(crate) fn lookup(name: &str) -> Option<&'static str> {
    let wanted = canonical(name);
    CATEGORIES
        .iter()
        .find(|(alias, _)| canonical(alias) == wanted)
        .map(|&(_, rust)| rust)
        .or_else(|| {
            SCRIPTS
                .split_ascii_whitespace()
                .find(|script| canonical(script) == wanted)
        })
}

/// The regex crate's name for the class Go 1.19 calls `name` (`unicodeTable` before Go 1.25):
/// `Any`, a general category by its short name (Go 1.19's `unicode.Categories`, without the
/// `LC` and `Cn` Go 1.25 added) or a script, each spelled exactly.
pub(crate) fn lookup_go119(name: &str) -> Option<&'static str> {
    let short_category = |alias: &str| alias.len() <= 2 && !matches!(alias, "LC" | "Cn");
    CATEGORIES
        .iter()
        .find(|&&(alias, _)| alias == name && (short_category(alias) || alias == "Any"))
        .map(|&(_, rust)| rust)
        .or_else(|| {
            SCRIPTS
                .split_ascii_whitespace()
                .find(|&script| script == name)
        })
}

/// Go's `canonicalName`, compared case-insensitively: without `_`, `-` and spaces.
fn canonical(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_knows() {
        for (name, want) in [
            ("L", Some("Letter")),
            ("Lu", Some("Uppercase_Letter")),
            ("lu", Some("Uppercase_Letter")),
            ("Letter", Some("Letter")),
            ("uppercase letter", Some("Uppercase_Letter")),
            ("LC", Some("Cased_Letter")),
            ("Greek", Some("Greek")),
            ("old-italic", Some("Old_Italic")),
            ("Any", Some("Any")),
            ("ascii", Some("ASCII")),
            ("Alphabetic", None),
            ("Grek", None),
            ("isGreek", None),
            ("Script=Greek", None),
            ("Cs", None),
            ("", None),
        ] {
            assert_eq!(lookup(name), want, "{name:?}");
        }
    }

    #[test]
    fn names_go_1_19_knows() {
        for (name, want) in [
            ("L", Some("Letter")),
            ("Lu", Some("Uppercase_Letter")),
            ("Greek", Some("Greek")),
            ("Old_Italic", Some("Old_Italic")),
            ("Any", Some("Any")),
            ("lu", None),
            ("Letter", None),
            ("LC", None),
            ("Cn", None),
            ("greek", None),
            ("ASCII", None),
            ("Assigned", None),
            ("cntrl", None),
        ] {
            assert_eq!(lookup_go119(name), want, "{name:?}");
        }
    }
}
