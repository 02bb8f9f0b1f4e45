//! The run filter: case-insensitive substring terms that must all match (AND), each against a
//! run's friendly id, task, status (API name and table label) and tags, or against one of them
//! with a `id:`, `task:`, `status:` or `tag:` prefix.
//!
//! Matching runs against a [`Haystack`], the searchable fields in lower case, built once when a
//! run arrives or changes; the filter itself never allocates per run.

use crate::model::Run;
use crate::model::status::display_label;

/// The field a term is restricted to; `None` in [`Term::field`] means any field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    Task,
    Status,
    Tag,
}

/// One space-separated word of the filter, in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub field: Option<Field>,
    pub needle: String,
}

/// A parsed filter; the empty filter shows every run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    text: String,
    terms: Vec<Term>,
}

impl Filter {
    /// Parses filter text: whitespace separates terms; a known `field:` prefix restricts a term
    /// (any other colon is part of the text, so `tenant:acme` finds that tag).
    pub fn new(text: &str) -> Self {
        let terms = text
            .split_whitespace()
            .map(|word| {
                let word = word.to_lowercase();
                let prefixed = [
                    ("id:", Field::Id),
                    ("task:", Field::Task),
                    ("status:", Field::Status),
                    ("tag:", Field::Tag),
                ]
                .into_iter()
                .find_map(|(prefix, field)| word.strip_prefix(prefix).map(|rest| (field, rest)));
                match prefixed {
                    Some((field, rest)) => Term {
                        field: Some(field),
                        needle: rest.to_string(),
                    },
                    None => Term {
                        field: None,
                        needle: word,
                    },
                }
            })
            .collect();
        Self {
            text: text.to_string(),
            terms,
        }
    }

    /// The text as typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Does the filter hide anything? (Blank text does not.)
    pub fn is_active(&self) -> bool {
        !self.terms.is_empty()
    }

    /// The parsed terms, in the order typed.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Every term matches the run.
    pub fn matches(&self, hay: &Haystack) -> bool {
        self.terms.iter().all(|term| {
            let within = match term.field {
                None => hay.text.as_str(),
                Some(field) => hay.field(field),
            };
            within.contains(term.needle.as_str())
        })
    }
}

/// A run's searchable fields in lower case, each ended by a newline: friendly id, task, API
/// status, table label, then the tags. Terms hold no whitespace, so no term can match across
/// two fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Haystack {
    text: String,
    /// Where the task, the status and the tags start in `text`.
    starts: [usize; 3],
}

impl Haystack {
    /// The run's searchable fields, lower-cased once.
    pub fn new(run: &Run) -> Self {
        fn push(text: &mut String, part: &str) {
            if part.is_ascii() {
                let start = text.len();
                text.push_str(part);
                text[start..].make_ascii_lowercase();
            } else {
                text.extend(part.chars().flat_map(char::to_lowercase));
            }
            text.push('\n');
        }
        let mut text = String::with_capacity(64);
        push(&mut text, &run.id);
        let task = text.len();
        push(
            &mut text,
            run.task_identifier.as_deref().unwrap_or_default(),
        );
        let status = text.len();
        push(&mut text, run.status.api_name());
        push(&mut text, display_label(&run.status, &run.db_status));
        let tags = text.len();
        for tag in &run.tags {
            push(&mut text, tag);
        }
        Self {
            text,
            starts: [task, status, tags],
        }
    }

    /// The haystack is built from these fields only: when they are unchanged it can be kept.
    pub fn same_fields(a: &Run, b: &Run) -> bool {
        a.id == b.id
            && a.task_identifier == b.task_identifier
            && a.status == b.status
            && a.db_status == b.db_status
            && a.tags == b.tags
    }

    fn field(&self, field: Field) -> &str {
        let [task, status, tags] = self.starts;
        let range = match field {
            Field::Id => 0..task,
            Field::Task => task..status,
            Field::Status => status..tags,
            Field::Tag => tags..self.text.len(),
        };
        self.text.get(range).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures;

    /// Does `filter` match run `n` of the fixtures in `status`?
    fn hit(filter: &str, n: usize, status: &str) -> bool {
        Filter::new(filter).matches(&Haystack::new(&fixtures::run(n, status)))
    }

    #[test]
    fn each_field_matches_case_insensitively() {
        // Run 6: task resize-image, tags tenant:acme and "priority high".
        assert!(hit("RUN_0006", 6, "EXECUTING"), "friendly id");
        assert!(hit("Resize", 6, "EXECUTING"), "task");
        assert!(hit("executing", 6, "EXECUTING"), "API status");
        assert!(
            hit("failed", 6, "COMPLETED_WITH_ERRORS"),
            "API status FAILED"
        );
        assert!(hit("reattempt", 6, "RETRYING_AFTER_FAILURE"), "table label");
        assert!(
            hit("system failure", 6, "SYSTEM_FAILURE"),
            "label, two terms"
        );
        assert!(hit("ACME", 6, "EXECUTING"), "tag");
        assert!(hit("tenant:acme", 6, "EXECUTING"), "a tag with a colon");
        assert!(!hit("send-email", 6, "EXECUTING"));
        assert!(
            !hit("cmrun", 6, "EXECUTING"),
            "the internal id is not searched"
        );
    }

    #[test]
    fn every_term_must_match() {
        assert!(hit("resize acme queued", 6, "PENDING"));
        assert!(!hit("resize acme failed", 6, "PENDING"));
        assert!(!hit("resize nothing", 6, "PENDING"));
    }

    #[test]
    fn blank_filter_shows_everything() {
        let filter = Filter::new("   ");
        assert!(!filter.is_active());
        assert!(filter.matches(&Haystack::new(&fixtures::run(1, "PENDING"))));
        assert_eq!(filter.text(), "   ");
    }

    #[test]
    fn prefixes_restrict_a_term_to_one_field() {
        // Run 4: task import-rows, no tags.
        assert!(hit("status:exec", 4, "EXECUTING"));
        assert!(!hit("status:import", 4, "EXECUTING"));
        assert!(hit("task:import", 4, "EXECUTING"));
        assert!(!hit("task:exec", 4, "EXECUTING"));
        assert!(hit("id:_0004", 4, "EXECUTING"));
        assert!(!hit("tag:acme", 4, "EXECUTING"));
        assert!(hit("tag:acme", 6, "EXECUTING"));
        assert!(hit("TAG:Priority", 6, "EXECUTING"));
        assert!(!hit("tag:resize", 6, "EXECUTING"));
        assert_eq!(
            Filter::new("Status:FAILED x:y").terms(),
            &[
                Term {
                    field: Some(Field::Status),
                    needle: "failed".into()
                },
                Term {
                    field: None,
                    needle: "x:y".into()
                },
            ]
        );
    }
}
