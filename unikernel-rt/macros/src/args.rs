//! Parsing of `key = "value", flag, …` attribute arguments, shared by both
//! macros: syntax, unknown and duplicate keys, and value extraction with
//! precise spans.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitInt, LitStr, Meta, Token};

/// Collects every error so that all of them are reported in one compile.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records the error of `result`, if any, and returns its value.
    pub(crate) fn check<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// How an argument was written.
pub(crate) enum ArgValue {
    /// `key`
    Flag,
    /// `key = <expr>`
    Value(Expr),
    /// `key(...)`: never accepted, kept to report the expected form.
    List,
}

/// One argument whose key is known to be valid and not repeated.
pub(crate) struct Arg {
    pub(crate) key: Ident,
    pub(crate) value: ArgValue,
    /// The whole `key = value`, for errors about the argument as a whole.
    pub(crate) tokens: TokenStream,
}

impl Arg {
    /// An error underlining the whole argument.
    pub(crate) fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        syn::Error::new_spanned(&self.tokens, message)
    }

    /// The expression after `=`, or an error that shows `form`, the expected
    /// way to write this argument.
    pub(crate) fn value(&self, form: &str) -> syn::Result<&Expr> {
        match &self.value {
            ArgValue::Value(expr) => Ok(expr),
            ArgValue::Flag | ArgValue::List => {
                Err(self.error(format!("`{}` needs a value: expected {form}", self.key)))
            }
        }
    }
}

/// A literal value as the user wrote it.
pub(crate) enum Literal<'a> {
    Str(&'a LitStr),
    Int(&'a LitInt),
}

/// Extracts a string or integer literal, else an error showing `form`.
pub(crate) fn literal<'a>(key: &Ident, expr: &'a Expr, form: &str) -> syn::Result<Literal<'a>> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(Literal::Str(s)),
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => Ok(Literal::Int(i)),
        _ => Err(syn::Error::new_spanned(
            expr,
            format!("invalid value for `{key}`: expected {form}"),
        )),
    }
}

/// Extracts a string literal, else an error showing `form`.
pub(crate) fn string<'a>(key: &Ident, expr: &'a Expr, form: &str) -> syn::Result<&'a LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s),
        _ => Err(syn::Error::new_spanned(
            expr,
            format!("invalid value for `{key}`: expected {form}"),
        )),
    }
}

/// An integer literal as `u64`; a suffix other than `u64`/`usize` is
/// rejected because it would silently change the meaning of the number.
pub(crate) fn int_u64(key: &Ident, lit: &LitInt) -> syn::Result<u64> {
    if !matches!(lit.suffix(), "" | "u64" | "usize") {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid value for `{key}`: integer suffix `{}` is not allowed (use none or `u64`)",
                lit.suffix()
            ),
        ));
    }
    lit.base10_parse::<u64>()
        .map_err(|e| syn::Error::new(lit.span(), format!("invalid value for `{key}`: {e}")))
}

/// Parses the attribute's argument list, reporting syntax errors, unknown
/// keys (with the list of `valid` ones) and duplicates into `errors`, and
/// returns the arguments that remain.
pub(crate) fn parse(
    macro_name: &str,
    tokens: TokenStream,
    valid: &[&str],
    errors: &mut Errors,
) -> Vec<Arg> {
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(metas) => metas,
        Err(e) => {
            let message = format!(
                "{e}; `#[{macro_name}]` arguments are written `key = \"value\"` or `flag`, separated by commas"
            );
            errors.push(syn::Error::new(e.span(), message));
            return Vec::new();
        }
    };
    let mut args: Vec<Arg> = Vec::new();
    for meta in metas {
        let tokens = meta.to_token_stream();
        let Some(key) = meta.path().get_ident().cloned() else {
            errors.push(syn::Error::new_spanned(
                meta.path(),
                format!(
                    "expected an argument name; valid arguments: {}",
                    list(valid)
                ),
            ));
            continue;
        };
        let name = key.to_string();
        if !valid.contains(&name.as_str()) {
            let hint = closest(&name, valid)
                .map(|v| format!(" (did you mean `{v}`?)"))
                .unwrap_or_default();
            errors.push(syn::Error::new(
                key.span(),
                format!(
                    "unknown argument `{name}`{hint}; valid arguments: {}",
                    list(valid)
                ),
            ));
            continue;
        }
        if args.iter().any(|a| a.key == key) {
            errors.push(syn::Error::new(
                key.span(),
                format!("duplicate argument `{name}`: each argument may be given once"),
            ));
            continue;
        }
        let value = match meta {
            Meta::Path(_) => ArgValue::Flag,
            Meta::NameValue(nv) => ArgValue::Value(nv.value),
            Meta::List(_) => ArgValue::List,
        };
        args.push(Arg { key, value, tokens });
    }
    args
}

fn list(valid: &[&str]) -> String {
    valid
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The valid key nearest to a misspelt one, if it is near enough to be a
/// plausible typo (at most a third of its letters differ).
fn closest<'a>(name: &str, valid: &[&'a str]) -> Option<&'a str> {
    valid
        .iter()
        .map(|v| (edit_distance(name, v), *v))
        .filter(|&(d, v)| d <= v.len().max(name.len()) / 3)
        .min_by_key(|&(d, _)| d)
        .map(|(_, v)| v)
}

/// Levenshtein distance over bytes (keys are ASCII identifiers).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("heap_size", "heap_size"), 0);
        assert_eq!(edit_distance("heapsize", "heap_size"), 1);
        assert_eq!(edit_distance("heap_sise", "heap_size"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let valid = ["heap_size", "heap_limit", "stack_size", "log_level"];
        assert_eq!(closest("heapsize", &valid), Some("heap_size"));
        assert_eq!(closest("stack", &valid), None);
        assert_eq!(closest("loglevel", &valid), Some("log_level"));
        assert_eq!(closest("colour", &valid), None);
    }

    #[test]
    fn unknown_and_duplicate_keys_are_all_reported() {
        let mut errors = Errors::default();
        let args = parse(
            "m",
            quote::quote!(a = "1", b, zzz = 3, a = "2"),
            &["a", "b"],
            &mut errors,
        );
        assert_eq!(args.len(), 2);
        let err = errors.finish().unwrap_err();
        let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0].starts_with("unknown argument `zzz`"),
            "{messages:?}"
        );
        assert!(
            messages[1].starts_with("duplicate argument `a`"),
            "{messages:?}"
        );
    }
}
