//! Validation of the function an attribute is applied to.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Item, ItemFn, ReturnType, Type, Visibility};

use crate::args::Errors;

/// What the function returns, which decides how its outcome is reported.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReturnKind {
    /// No return type or `-> ()`.
    Unit,
    /// `-> !`
    Never,
    /// A path type whose last segment is `Result`, with the spans of the
    /// type's first and last tokens (see [`report_call`]).
    Result(Span, Span),
}

/// What one macro accepts.
pub(crate) struct Rules {
    /// `unikernel::main`, as written in messages.
    pub(crate) macro_name: &'static str,
    /// The accepted signatures, as listed in every message.
    pub(crate) accepted: &'static str,
    pub(crate) allow_visibility: bool,
    pub(crate) allow_never: bool,
}

/// Parses the annotated item as a function. Anything else is an error that
/// names the macro and the accepted signatures.
pub(crate) fn parse_fn(item: TokenStream, rules: &Rules) -> syn::Result<ItemFn> {
    match syn::parse2::<Item>(item)? {
        Item::Fn(f) => Ok(f),
        other => Err(syn::Error::new_spanned(
            item_head(&other),
            format!(
                "`#[{}]` can only be applied to a function; accepted: {}",
                rules.macro_name, rules.accepted
            ),
        )),
    }
}

/// The tokens of an item up to its body (`pub struct Foo`, `impl Foo`), so
/// the error does not underline a whole block.
fn item_head(item: &Item) -> TokenStream {
    let mut head = TokenStream::new();
    let mut tokens = item.to_token_stream().into_iter().peekable();
    while let Some(token) = tokens.next() {
        match &token {
            // Outer attributes (including doc comments) are not the item.
            TokenTree::Punct(p) if p.as_char() == '#' && head.is_empty() => {
                tokens.next_if(
                    |t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket),
                );
                continue;
            }
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => break,
            TokenTree::Punct(p) if matches!(p.as_char(), ';' | '=' | '<' | ':') => break,
            _ => head.extend([token]),
        }
    }
    head
}

/// Checks everything but the name and reports every problem into `errors`.
/// Returns the return kind if the return type itself is acceptable.
pub(crate) fn check(f: &ItemFn, rules: &Rules, errors: &mut Errors) -> Option<ReturnKind> {
    let sig = &f.sig;
    let mut reject = |tokens: &dyn ToTokens, what: &str| {
        errors.push(syn::Error::new_spanned(
            tokens,
            format!(
                "`#[{}]` function {what}; accepted: {}",
                rules.macro_name, rules.accepted
            ),
        ));
    };
    if !rules.allow_visibility && !matches!(f.vis, Visibility::Inherited) {
        let vis = f.vis.to_token_stream().to_string().replace(' ', "");
        reject(
            &f.vis,
            &format!("must not be `{vis}`: the runtime calls it"),
        );
    }
    if let Some(t) = &sig.constness {
        reject(t, "must not be `const`");
    }
    if let Some(t) = &sig.asyncness {
        reject(t, "must not be `async`: there is no executor to run it");
    }
    if let Some(t) = &sig.unsafety {
        reject(t, "must not be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        reject(
            abi,
            "must not declare an ABI: it is called as a Rust function",
        );
    }
    if !sig.generics.params.is_empty() {
        reject(&sig.generics, "must not be generic");
    }
    if let Some(w) = &sig.generics.where_clause {
        reject(w, "must not have a `where` clause");
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let inputs = &sig.inputs;
        let variadic = &sig.variadic;
        reject(&quote!(#inputs #variadic), "must not take arguments");
    }
    let kind = match &sig.output {
        ReturnType::Default => Some(ReturnKind::Unit),
        ReturnType::Type(_, ty) => classify(ty, rules.allow_never),
    };
    if kind.is_none() {
        let ReturnType::Type(_, ty) = &sig.output else {
            unreachable!("the default return type is always accepted")
        };
        reject(ty, "has an unsupported return type");
    }
    kind
}

fn classify(ty: &Type, allow_never: bool) -> Option<ReturnKind> {
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => Some(ReturnKind::Unit),
        Type::Never(_) if allow_never => Some(ReturnKind::Never),
        Type::Paren(p) => classify(&p.elem, allow_never),
        Type::Group(g) => classify(&g.elem, allow_never),
        // Any path ending in `Result` (`core::result::Result<(), E>`,
        // `io::Result<()>`, a local alias): the runtime's trait bound checks
        // the actual type, and its error points here.
        Type::Path(p)
            if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Result") =>
        {
            let last = ty.to_token_stream().into_iter().last();
            Some(ReturnKind::Result(
                ty.span(),
                last.map_or(ty.span(), |t| t.span()),
            ))
        }
        _ => None,
    }
}

/// The expression that runs the function `name` and converts its outcome to
/// the runtime's `Exit`.
///
/// For a `Result`, the call is made through the runtime's `MainReturn`
/// trait, and its tokens are spanned from the return type's first to its last
/// token: when the trait is not implemented (an `E` without `Debug`, a
/// success type other than `()`), rustc underlines exactly the return type.
pub(crate) fn report_call(name: &Ident, kind: ReturnKind) -> TokenStream {
    let private = quote!(::unikernel::__private);
    match kind {
        ReturnKind::Unit => quote! { #name(); #private::Exit::Success },
        ReturnKind::Never => quote! { #name() },
        ReturnKind::Result(first, last) => {
            let mut callee = name.clone();
            callee.set_span(first);
            let call = quote_spanned!(last=> #callee());
            quote_spanned! {last=> #private::MainReturn::report(#call) }
        }
    }
}
