//! Making server text safe and small for the terminal and for log lines.
//!
//! Run data comes from users' tasks: it may hold ESC sequences, other C0/C1 controls, bidi
//! overrides or zero-width characters. Nothing from the feed reaches the terminal raw; these
//! functions show such characters visibly instead.

/// Replaces control and invisible characters with visible escapes (`\e`, `\x07`, `\u{202e}`),
/// and tabs with spaces. Newlines are escaped too: use [`sanitize_multiline`] to keep them.
pub fn sanitize_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_sanitized(&mut out, text, false);
    out
}

/// Like [`sanitize_line`] but keeps `\n` as a line break; `\r\n` becomes `\n`, and a lone `\r`
/// is shown as `\r`.
pub fn sanitize_multiline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let normalized = text.replace("\r\n", "\n");
    push_sanitized(&mut out, &normalized, true);
    out
}

fn push_sanitized(out: &mut String, text: &str, keep_newlines: bool) {
    for c in text.chars() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\t' => out.push_str("    "),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_invisible(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
}

/// C1 controls, bidi controls, zero-width and every other format character (Unicode category
/// Cf) that would change how the rest of the line looks or hide text.
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x80..=0x9f            // C1 controls
        | 0xad                 // soft hyphen
        | 0x600..=0x605 | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 // Arabic/Syriac format marks
        | 0x61c                // Arabic letter mark (a bidi control)
        | 0x180e               // Mongolian vowel separator (zero width)
        | 0x200b..=0x200f      // zero-width space/joiners, LRM, RLM
        | 0x2028..=0x202e      // line/paragraph separators, bidi embeddings and overrides
        | 0x2060..=0x206f      // word joiner, invisible operators, bidi isolates, deprecated
                               // format characters (and U+2065, unassigned but ignorable)
        | 0xfeff               // zero-width no-break space
        | 0xfff9..=0xfffb      // interlinear annotations
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0xe0000..=0xe007f    // tag characters: invisible, can smuggle hidden text
    ) && c != '\u{200d}' // ZWJ joins emoji sequences; it is shown as part of the glyph
}

/// A serde_json formatter for JSON text that is safe on a terminal: besides the C0 controls
/// JSON always escapes, DEL and every [`is_invisible`] character are written as `\uXXXX`
/// escapes. The value read back is the same; only the bytes differ.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        // Most text is plain ASCII: one scan, one copy.
        if fragment.bytes().all(|b| b.is_ascii() && b != 0x7f) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c == '\u{7f}' || is_invisible(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Appends `value` as compact, terminal-safe JSON ([`TerminalSafe`]).
pub fn write_safe_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let mut ser = serde_json::Serializer::with_formatter(out, TerminalSafe);
    // Writing into a Vec cannot fail, and these values (strings, numbers, JSON values) always
    // serialize.
    let _ = value.serialize(&mut ser);
}

/// Whether `text` is already, byte for byte, what [`write_safe_json`] writes for the value it
/// parses to: compact, object keys in sorted order and unique, numbers as serde_json prints
/// them, no escapes, no character [`TerminalSafe`] would escape. Such text can be printed as
/// it is, without building the value. `false` says nothing more: the text may still be valid.
pub fn is_safe_canonical_json(text: &str) -> bool {
    let mut scan = CanonicalScan {
        bytes: text.as_bytes(),
        at: 0,
    };
    scan.value(0) && scan.at == scan.bytes.len()
}

/// A one-pass check for [`is_safe_canonical_json`]: it accepts a subset of JSON's grammar.
struct CanonicalScan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> CanonicalScan<'a> {
    /// Deeper text goes the slow way (serde_json's own limit is 128).
    const MAX_DEPTH: usize = 64;

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, literal: &[u8]) -> bool {
        let found = self.bytes[self.at..].starts_with(literal);
        if found {
            self.at += literal.len();
        }
        found
    }

    fn value(&mut self, depth: usize) -> bool {
        if depth > Self::MAX_DEPTH {
            return false;
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().is_some(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.eat(b"true"),
            Some(b'f') => self.eat(b"false"),
            Some(b'n') => self.eat(b"null"),
            _ => false,
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        self.at += 1;
        if self.eat(b"}") {
            return true;
        }
        let mut last: Option<&'a [u8]> = None;
        loop {
            let Some(key) = self.string() else {
                return false;
            };
            // Sorted as a `String` map sorts (bytewise), which also rules out a repeated key.
            if last.is_some_and(|last| last >= key) || !self.eat(b":") || !self.value(depth + 1) {
                return false;
            }
            last = Some(key);
            if self.eat(b"}") {
                return true;
            }
            if !self.eat(b",") {
                return false;
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        self.at += 1;
        if self.eat(b"]") {
            return true;
        }
        loop {
            if !self.value(depth + 1) {
                return false;
            }
            if self.eat(b"]") {
                return true;
            }
            if !self.eat(b",") {
                return false;
            }
        }
    }

    /// A string with no escapes and nothing [`TerminalSafe`] escapes; its contents.
    fn string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b"\"") {
            return None;
        }
        let start = self.at;
        let len = self.bytes[start..].iter().position(|&b| b == b'"')?;
        let contents = &self.bytes[start..start + len];
        let plain = contents
            .iter()
            .all(|&b| b >= 0x20 && b != b'\\' && b != 0x7f);
        // The input is a `str`, so the contents (cut at ASCII quotes) are UTF-8.
        let shown = contents.is_ascii()
            || std::str::from_utf8(contents).is_ok_and(|s| !s.chars().any(is_invisible));
        self.at = start + len + 1;
        (plain && shown).then_some(contents)
    }

    /// A number serde_json reads and writes back as the same text.
    fn number(&mut self) -> bool {
        let start = self.at;
        let end = self.bytes[start..]
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .map_or(self.bytes.len(), |i| start + i);
        self.at = end;
        let token = &self.bytes[start..end];
        let digits = token.strip_prefix(b"-").unwrap_or(token);
        // A plain integer that fits in an i64 is printed as written, unless it has leading
        // zeros (not JSON) or is "-0" (read as the float -0.0).
        if digits.iter().all(u8::is_ascii_digit) && (1..=18).contains(&digits.len()) {
            return (digits[0] != b'0' || digits.len() == 1) && token != b"-0";
        }
        // Anything else, through serde_json's own reading and printing of numbers.
        std::str::from_utf8(token).is_ok_and(|token| {
            token
                .parse::<serde_json::Number>()
                .is_ok_and(|n| n.to_string() == token)
        })
    }
}

/// One sanitized line of at most `max` characters, with `…` when cut.
pub fn clip_line(text: &str, max: usize) -> String {
    let line = sanitize_line(text);
    if line.chars().count() <= max {
        return line;
    }
    let mut out: String = line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_is_recognised_and_anything_the_printer_would_change_is_not() {
        for yes in [
            r#"{"attempt":1,"progress":0.25,"step":"parsing"}"#,
            r#"{"a":[1,-2,3.5,1e+300,true,false,null,{}],"b":"Zoë 数据 🚀","c":[]}"#,
            "12345678901234567890",
            r#""plain""#,
            "-0.0",
        ] {
            assert!(is_safe_canonical_json(yes), "{yes}");
        }
        for no in [
            r#"{"b":1,"a":2}"#, // out of order
            r#"{"a":1,"a":2}"#, // repeated key
            r#"{"a": 1}"#,      // whitespace
            r#"{"a":"x
y"}"#,    // an escape
            "{\"a\":\"\u{202e}\"}", // bidi override, printed escaped
            "{\"a\":\"\u{7f}\"}", // DEL
            "1e5",              // printed as 100000.0
            "1.50",             // printed as 1.5
            "-0",               // read as the float -0.0
            "01",               // not JSON
            r#"{"a":1}x"#,      // trailing text
            "[1,]",
            "",
        ] {
            assert!(!is_safe_canonical_json(no), "{no}");
        }
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(!is_safe_canonical_json(&deep));
    }

    #[test]
    fn escape_sequences_become_visible() {
        let s = sanitize_line("\u{1b}[31mTypeError\u{1b}[0m: boom\r\n\tat run\u{7}");
        assert_eq!(s, "\\e[31mTypeError\\e[0m: boom\\r\\n    at run\\x07");
        assert!(!s.chars().any(|c| c.is_control()));
    }

    #[test]
    fn multiline_keeps_newlines_only() {
        let s = sanitize_multiline("line1\u{0}line2\u{1b}]0;owned\u{7}\r\nline3\r75%");
        assert_eq!(s, "line1\\x00line2\\e]0;owned\\x07\nline3\\r75%");
    }

    #[test]
    fn bidi_and_zero_width_are_shown() {
        assert_eq!(
            sanitize_line("a\u{202e}b\u{200b}c\u{feff}"),
            "a\\u{202e}b\\u{200b}c\\u{feff}"
        );
        assert_eq!(sanitize_line("\u{85}"), "\\u{85}");
        // The ZWJ inside an emoji sequence stays.
        assert_eq!(sanitize_line("👩\u{200d}🔬"), "👩\u{200d}🔬");
    }

    #[test]
    fn every_format_character_is_shown() {
        // The Arabic letter mark is a bidi control; soft hyphens, the Mongolian vowel
        // separator and tag characters draw as nothing (tags can hide a whole message).
        assert_eq!(
            sanitize_line("a\u{61c}b\u{ad}c\u{180e}d\u{206a}e\u{2065}"),
            "a\\u{61c}b\\u{ad}c\\u{180e}d\\u{206a}e\\u{2065}"
        );
        assert_eq!(
            sanitize_line("ok\u{e0001}\u{e0069}\u{e007f}"),
            "ok\\u{e0001}\\u{e0069}\\u{e007f}"
        );
    }

    #[test]
    fn clip_line_cuts_with_an_ellipsis() {
        assert_eq!(clip_line("abcdef", 4), "abc…");
        assert_eq!(clip_line("abc", 4), "abc");
    }
}
