//! The actions a patch-file step can take. One file per action; adding one is a new file plus
//! one line in `registry!` below.

mod json_patch;
mod merge_patch;

use anyhow::Result;
use serde::Deserialize;
use serde::de::MapAccess;
use serde_json::Value;

/// How a step treats values the chart already set.
#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Set the value whatever was there (RFC 6902 / RFC 7396 semantics).
    #[default]
    Overwrite,
    /// Only add what is missing: respect what the chart author set on purpose.
    IfAbsent,
}

/// What an action sees besides its target.
pub struct Context {
    pub mode: Mode,
}

/// An action that did not apply to a target, and why (the pipeline reports it).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied,
    Skipped(String),
}

/// One action: applied to a target value (a resource, a pod spec or a container).
pub trait Transform {
    /// The key that names the action in a patch-file step.
    const KEY: &'static str;
    /// One line for `explain` and the README's table.
    const SUMMARY: &'static str;

    fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome>;
}

macro_rules! registry {
    ($($module:ident :: $ty:ident),* $(,)?) => {
        /// The action of a step, one variant per transform.
        #[derive(Debug)]
        pub enum Action {
            $($ty($module::$ty)),*
        }

        impl Action {
            /// Every action key, in registry order.
            pub const KEYS: &'static [&'static str] = &[$(<$module::$ty as Transform>::KEY),*];

            /// Reads the action named `key` from a step being deserialized; `None` if no action
            /// has that key.
            pub fn from_step_entry<'de, A: MapAccess<'de>>(
                key: &str,
                map: &mut A,
            ) -> Result<Option<Action>, A::Error> {
                $(if key == <$module::$ty as Transform>::KEY {
                    return map.next_value().map(|v| Some(Action::$ty(v)));
                })*
                Ok(None)
            }

            /// Every action's key and one-line summary, in registry order.
            pub fn summaries() -> impl Iterator<Item = (&'static str, &'static str)> {
                [$((<$module::$ty as Transform>::KEY, <$module::$ty as Transform>::SUMMARY)),*].into_iter()
            }

            pub fn key(&self) -> &'static str {
                match self {
                    $(Action::$ty(_) => <$module::$ty as Transform>::KEY),*
                }
            }

            pub fn apply(&self, target: &mut Value, ctx: &Context) -> Result<Outcome> {
                match self {
                    $(Action::$ty(action) => action.apply(target, ctx)),*
                }
            }
        }
    };
}

registry! {
    json_patch::JsonPatch,
    merge_patch::MergePatch,
}
