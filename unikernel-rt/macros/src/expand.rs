//! The expansion skeleton both attribute macros share: parse and check the
//! annotated function, and on any error emit the errors next to the item.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::args::Errors;
use crate::signature::{self, ReturnKind, Rules};

/// Expands an attribute on a function: parses `item` as a function and
/// checks its signature against `rules`; `check_more` then adds the
/// macro's own checks that depend on the return kind. Only when no error
/// was collected (`errors` holds those of the arguments) does `generate`
/// produce the expansion.
///
/// Errors are reported in the order they were collected: arguments first,
/// then the signature, then `check_more`.
pub(crate) fn function(
    item: TokenStream,
    rules: &Rules,
    mut errors: Errors,
    check_more: impl FnOnce(Option<ReturnKind>, &mut Errors),
    generate: impl FnOnce(ItemFn, ReturnKind) -> TokenStream,
) -> TokenStream {
    let f = match signature::parse_fn(item.clone(), rules) {
        Ok(f) => f,
        Err(e) => {
            errors.push(e);
            return with_errors(errors, item);
        }
    };
    let kind = signature::check(&f, rules, &mut errors);
    check_more(kind, &mut errors);
    match (errors.finish(), kind) {
        (Ok(()), Some(kind)) => generate(f, kind),
        (Err(e), _) => with_error(e, item),
        (Ok(()), None) => unreachable!("an unaccepted return type is always reported"),
    }
}

/// On error the item is emitted unchanged next to the errors, so that the
/// function body is still checked (and IDEs keep working) while the
/// macro's glue (entry point, test registration) is left out.
fn with_errors(errors: Errors, item: TokenStream) -> TokenStream {
    match errors.finish() {
        Ok(()) => item,
        Err(e) => with_error(e, item),
    }
}

fn with_error(e: syn::Error, item: TokenStream) -> TokenStream {
    let errors = e.to_compile_error();
    quote!(#errors #item)
}

/// The messages of the `compile_error!`s in an expansion, in order, for
/// unit tests of either macro.
#[cfg(test)]
pub(crate) fn error_messages(expansion: TokenStream) -> Vec<String> {
    expansion
        .to_string()
        .split("compile_error !")
        .skip(1)
        .map(|s| s.split('"').nth(1).unwrap_or_default().to_owned())
        .collect()
}
