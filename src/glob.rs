//! Shell-style globs for names, kinds, namespaces and template paths: `*`, `?`, `[a-z]`, `[!x]`.
//!
//! Matching backtracks only over the last `*`, so it is linear in practice and never worse
//! than pattern length × text length: a patch file cannot make it blow up.

use std::fmt;

#[derive(Clone, PartialEq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

#[derive(Clone, PartialEq, Debug)]
enum Token {
    Char(char),
    AnyOne,
    AnyRun,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => Token::AnyRun,
                '?' => Token::AnyOne,
                '\\' => Token::Char(
                    chars
                        .next()
                        .ok_or_else(|| format!("glob `{pattern}` ends with a lone `\\`"))?,
                ),
                '[' => {
                    let negated = chars.next_if(|&c| c == '!' || c == '^').is_some();
                    let mut ranges = Vec::new();
                    loop {
                        let Some(start) = chars.next() else {
                            return Err(format!("glob `{pattern}` has an unclosed `[`"));
                        };
                        if start == ']' && !ranges.is_empty() {
                            break;
                        }
                        let end = if chars.next_if_eq(&'-').is_some() {
                            match chars.next() {
                                Some(']') | None => {
                                    return Err(format!(
                                        "glob `{pattern}` has an unfinished range in `[...]`"
                                    ));
                                }
                                Some(end) => end,
                            }
                        } else {
                            start
                        };
                        ranges.push((start, end));
                    }
                    Token::Class { negated, ranges }
                }
                c => Token::Char(c),
            });
        }
        Ok(Glob {
            source: pattern.to_string(),
            tokens,
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let (mut t, mut p) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::AnyRun) => {
                    backtrack = Some((p, t));
                    p += 1;
                    continue;
                }
                Some(token) if token_matches(token, text[t]) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((star_p, star_t)) => {
                    backtrack = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            }
        }
        self.tokens[p..].iter().all(|tok| *tok == Token::AnyRun)
    }
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Char(x) => *x == c,
        Token::AnyOne => true,
        Token::AnyRun => false,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).unwrap().is_match(t)
    }

    #[test]
    fn matches_like_a_shell() {
        assert!(m("web-*", "web-api"));
        assert!(m("*", ""));
        assert!(!m("web-*", "api-web"));
        assert!(m("*/templates/*.yaml", "chart/templates/deploy.yaml"));
        assert!(m("v?", "v1"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
    }

    #[test]
    fn bad_globs_are_rejected() {
        assert!(Glob::new("[abc").is_err());
        assert!(Glob::new("x\\").is_err());
        assert!(Glob::new("[a-]").is_err());
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        // Linear matching is ~5 million steps here (milliseconds, even unoptimised); a
        // backtracking or quadratic matcher would take minutes.
        let text = "a".repeat(100_000);
        let pattern = "*a".repeat(50) + "b";
        let started = std::time::Instant::now();
        assert!(!m(&pattern, &text));
        assert!(m(&pattern.replace('b', "a"), &text));
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    }
}
