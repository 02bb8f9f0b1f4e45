//! Postgres one-dimensional array literals, as Electric sends `text[]` columns.
//!
//! `{a,"b,c","d\"e",NULL,""}` decodes to `[Some("a"), Some("b,c"), Some("d\"e"), None, Some("")]`.
//! Only one dimension is decoded (the run feed has no deeper arrays); a nested literal is an error
//! rather than a guess.

use thiserror::Error;

/// Why an array literal could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArrayError {
    #[error("array literal does not start with '{{'")]
    MissingOpenBrace,
    #[error("array literal ends before its closing '}}'")]
    Unterminated,
    #[error("unexpected character {0:?} at byte {1} of the array literal")]
    Unexpected(char, usize),
    #[error("nested arrays are not supported")]
    Nested,
}

/// The whitespace Postgres skips around array elements (`array_isspace`): six ASCII characters.
/// Any other space (NBSP, U+3000 …) is data: Postgres prints it unquoted, even at an element's
/// edge, so trimming it would lose it.
fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// Decodes a one-dimensional Postgres array literal into its elements; `NULL` (unquoted, any case)
/// is a null element.
pub fn parse(literal: &str) -> Result<Vec<Option<String>>, ArrayError> {
    let text = literal.trim_matches(is_pg_space);
    let mut chars = text.char_indices().peekable();
    match chars.next() {
        Some((_, '{')) => {}
        _ => return Err(ArrayError::MissingOpenBrace),
    }

    let mut out = Vec::new();
    // Empty array.
    if let Some((_, '}')) = chars.peek() {
        chars.next();
        return match chars.next() {
            None => Ok(out),
            Some((i, c)) => Err(ArrayError::Unexpected(c, i)),
        };
    }

    loop {
        // Skip whitespace before an element.
        while let Some((_, c)) = chars.peek() {
            if is_pg_space(*c) {
                chars.next();
            } else {
                break;
            }
        }
        let Some(&(start, first)) = chars.peek() else {
            return Err(ArrayError::Unterminated);
        };
        let element = match first {
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(ArrayError::Unterminated),
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c)) => value.push(c),
                            None => return Err(ArrayError::Unterminated),
                        },
                        Some((_, '"')) => break,
                        Some((_, c)) => value.push(c),
                    }
                }
                // Whitespace after a quoted element is allowed before the delimiter.
                while let Some((_, c)) = chars.peek() {
                    if is_pg_space(*c) {
                        chars.next();
                    } else {
                        break;
                    }
                }
                Some(value)
            }
            '{' => return Err(ArrayError::Nested),
            ',' | '}' => return Err(ArrayError::Unexpected(first, start)),
            _ => {
                let mut value = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    match c {
                        ',' | '}' => break,
                        '\\' => {
                            chars.next();
                            match chars.next() {
                                Some((_, escaped)) => value.push(escaped),
                                None => return Err(ArrayError::Unterminated),
                            }
                        }
                        '"' | '{' => return Err(ArrayError::Unexpected(c, start)),
                        _ => {
                            value.push(c);
                            chars.next();
                        }
                    }
                }
                let trimmed = value.trim_end_matches(is_pg_space);
                if trimmed.eq_ignore_ascii_case("NULL") {
                    None
                } else {
                    Some(trimmed.to_string())
                }
            }
        };
        out.push(element);

        match chars.next() {
            Some((_, ',')) => continue,
            Some((_, '}')) => break,
            Some((i, c)) => return Err(ArrayError::Unexpected(c, i)),
            None => return Err(ArrayError::Unterminated),
        }
    }

    match chars.next() {
        None => Ok(out),
        Some((i, c)) => Err(ArrayError::Unexpected(c, i)),
    }
}

/// Encodes elements as a Postgres array literal, quoting where Postgres would.
pub fn encode<S: AsRef<str>>(elements: &[Option<S>]) -> String {
    let mut out = String::from("{");
    for (i, element) in elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let Some(element) = element else {
            out.push_str("NULL");
            continue;
        };
        let element = element.as_ref();
        let needs_quotes = element.is_empty()
            || element.eq_ignore_ascii_case("NULL")
            || element
                .chars()
                .any(|c| matches!(c, '{' | '}' | '"' | ',' | '\\') || c.is_whitespace());
        if !needs_quotes {
            out.push_str(element);
            continue;
        }
        out.push('"');
        for c in element.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn empty_array() {
        assert_eq!(parse("{}"), Ok(vec![]));
    }

    #[test]
    fn bare_elements() {
        assert_eq!(
            parse("{batch:demo,tenant:acme}"),
            Ok(vec![s("batch:demo"), s("tenant:acme")])
        );
    }

    #[test]
    fn quoted_elements_with_commas_quotes_and_backslashes() {
        let got = parse(r#"{"a,b","say \"hi\"","back\\slash","{braces}"}"#);
        assert_eq!(
            got,
            Ok(vec![
                s("a,b"),
                s("say \"hi\""),
                s("back\\slash"),
                s("{braces}")
            ])
        );
    }

    #[test]
    fn null_and_empty_string_differ() {
        assert_eq!(
            parse(r#"{NULL,"","NULL",null}"#),
            Ok(vec![None, s(""), s("NULL"), None])
        );
    }

    #[test]
    fn whitespace_around_elements() {
        assert_eq!(parse(r#"{ a , "b c" }"#), Ok(vec![s("a"), s("b c")]));
    }

    #[test]
    fn only_ascii_spaces_are_padding() {
        // Postgres prints these unquoted: a non-ASCII space at an element's edge is data.
        assert_eq!(
            parse("{\u{a0}tag\u{a0},\u{3000}x, y }"),
            Ok(vec![s("\u{a0}tag\u{a0}"), s("\u{3000}x"), s("y")])
        );
        assert_eq!(parse("\u{b}{a}\u{c}"), Ok(vec![s("a")]));
    }

    #[test]
    fn unicode_elements() {
        assert_eq!(
            parse(r#"{"🚀 fast",タグ}"#),
            Ok(vec![s("🚀 fast"), s("タグ")])
        );
    }

    #[test]
    fn malformed_literals_are_errors_not_panics() {
        assert_eq!(parse("a,b"), Err(ArrayError::MissingOpenBrace));
        assert_eq!(parse("{a,b"), Err(ArrayError::Unterminated));
        assert_eq!(parse(r#"{"a"#), Err(ArrayError::Unterminated));
        assert_eq!(parse("{{a}}"), Err(ArrayError::Nested));
        assert!(matches!(parse("{a,}"), Err(ArrayError::Unexpected('}', _))));
        assert!(matches!(parse("{a}x"), Err(ArrayError::Unexpected('x', _))));
        assert_eq!(parse(""), Err(ArrayError::MissingOpenBrace));
        assert_eq!(parse("{\\"), Err(ArrayError::Unterminated));
    }

    #[test]
    fn encode_round_trips_awkward_elements() {
        let elements = vec![
            s("plain"),
            s(""),
            s("a,b"),
            s("q\"uote"),
            s("back\\slash"),
            s("NULL"),
            None,
            s("has space"),
            s("{x}"),
        ];
        let literal = encode(&elements);
        assert_eq!(
            literal,
            r#"{plain,"","a,b","q\"uote","back\\slash","NULL",NULL,"has space","{x}"}"#
        );
        assert_eq!(parse(&literal), Ok(elements));
    }
}
