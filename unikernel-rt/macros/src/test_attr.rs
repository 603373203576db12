//! `#[unikernel::test]`: option validation and expansion.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{Ident, ItemFn, LitStr};

use crate::args::{self, Arg, ArgValue, Errors};
use crate::expand;
use crate::signature::{self, ReturnKind, Rules};

const RULES: Rules = Rules {
    macro_name: "unikernel::test",
    accepted: "`fn name()` or `fn name() -> Result<(), E>`",
    allow_visibility: true,
    allow_never: false,
};

const KEYS: &[&str] = &["should_panic", "should_fault", "ignore"];

/// The fault kinds `should_fault` accepts, with the runtime's variant names.
const FAULTS: &[(&str, &str)] = &[
    ("page_fault", "PageFault"),
    ("breakpoint", "Breakpoint"),
    ("illegal_instruction", "IllegalInstruction"),
    ("stack_overflow", "StackOverflow"),
    ("any", "Any"),
];

/// What the test is expected to do.
enum Expect {
    Pass,
    /// Panic, with a message containing the substring if one is given.
    Panic(Option<LitStr>),
    /// Fault with the runtime's `FaultKind` variant.
    Fault(Ident),
}

struct Options {
    expect: Expect,
    /// The `should_panic`/`should_fault` argument as written.
    expect_arg: Option<TokenStream>,
    ignore: bool,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = parse_options(attr, &mut errors);
    let check_expectation = |kind, errors: &mut Errors| {
        if let (Expect::Panic(_), Some(ReturnKind::Result(..)), Some(arg)) =
            (&options.expect, kind, &options.expect_arg)
        {
            // libtest refuses this combination too; here it would also be
            // ambiguous whether `Err` counts as the expected failure.
            errors.push(syn::Error::new_spanned(
                arg,
                "`should_panic` tests must return `()`: a test returning `Result` fails by returning `Err`",
            ));
        }
    };
    expand::function(item, &RULES, errors, check_expectation, |f, kind| {
        generate(f, kind, &options)
    })
}

fn parse_options(attr: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options {
        expect: Expect::Pass,
        expect_arg: None,
        ignore: false,
    };
    for arg in args::parse("unikernel::test", attr, KEYS, errors) {
        let key = arg.key.to_string();
        let expect = match key.as_str() {
            "ignore" => {
                if errors.check(flag(&arg, "`ignore`")).is_some() {
                    options.ignore = true;
                }
                continue;
            }
            "should_panic" => errors.check(should_panic(&arg)),
            "should_fault" => errors.check(should_fault(&arg)),
            other => unreachable!("`{other}` passed key validation"),
        };
        if options.expect_arg.is_some() {
            errors.push(arg.error(
                "`should_panic` and `should_fault` are exclusive: a test expects one outcome",
            ));
            continue;
        }
        options.expect_arg = Some(arg.tokens.clone());
        if let Some(expect) = expect {
            options.expect = expect;
        }
    }
    options
}

/// A bare flag: `key`, nothing after it.
fn flag(arg: &Arg, form: &str) -> syn::Result<()> {
    match arg.value {
        ArgValue::Flag => Ok(()),
        ArgValue::Value(_) | ArgValue::List => {
            Err(arg.error(format!("`{}` takes no value: expected {form}", arg.key)))
        }
    }
}

fn should_panic(arg: &Arg) -> syn::Result<Expect> {
    const FORM: &str = "`should_panic` or `should_panic = \"message substring\"`";
    match &arg.value {
        ArgValue::Flag => Ok(Expect::Panic(None)),
        ArgValue::Value(expr) => Ok(Expect::Panic(Some(
            args::string(&arg.key, expr, FORM)?.clone(),
        ))),
        ArgValue::List => Err(arg.error(format!("expected {FORM}"))),
    }
}

fn should_fault(arg: &Arg) -> syn::Result<Expect> {
    let kinds = FAULTS
        .iter()
        .map(|(name, _)| format!("`\"{name}\"`"))
        .collect::<Vec<_>>()
        .join(", ");
    let form = format!("`should_fault = \"<kind>\"` with one of {kinds}");
    let s = args::string(&arg.key, arg.value(&form)?, &form)?;
    let value = s.value();
    FAULTS
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, variant)| Expect::Fault(Ident::new(variant, s.span())))
        .ok_or_else(|| {
            syn::Error::new(
                s.span(),
                format!("unknown fault kind {value:?}: expected one of {kinds}"),
            )
        })
}

fn generate(f: ItemFn, kind: ReturnKind, options: &Options) -> TokenStream {
    let private = quote!(::unikernel::__private);
    let name = &f.sig.ident;
    let name_str = name.unraw().to_string();
    if matches!(kind, ReturnKind::Never) {
        unreachable!("`-> !` is rejected for tests");
    }
    let body = signature::report_call(name, kind);
    let expect = match &options.expect {
        Expect::Pass => quote!(#private::Expect::Pass),
        Expect::Panic(None) => quote!(#private::Expect::Panic(::core::option::Option::None)),
        Expect::Panic(Some(s)) => {
            quote!(#private::Expect::Panic(::core::option::Option::Some(#s)))
        }
        Expect::Fault(kind) => quote!(#private::Expect::Fault(#private::FaultKind::#kind)),
    };
    let ignore = options.ignore;

    // On hosted targets the same function is an ordinary libtest test, so
    // `cargo test` runs it too. The path is absolute so that a
    // `use unikernel::test;` in scope cannot capture it.
    let hosted = quote!(not(target_os = "none"));
    let mut host_attrs = vec![quote!(#[cfg_attr(#hosted, ::core::prelude::v1::test)])];
    match &options.expect {
        Expect::Pass => {}
        Expect::Panic(None) => host_attrs.push(quote!(#[cfg_attr(#hosted, should_panic)])),
        Expect::Panic(Some(s)) => {
            host_attrs.push(quote!(#[cfg_attr(#hosted, should_panic(expected = #s))]));
        }
        // A fault would kill the whole libtest process instead of failing
        // one test, so these only run in QEMU.
        Expect::Fault(_) => host_attrs.push(quote!(
            #[cfg_attr(#hosted, ignore = "should_fault tests run only in QEMU (`cargo unikernel test`)")]
        )),
    }
    if ignore && !matches!(options.expect, Expect::Fault(_)) {
        host_attrs.push(quote!(#[cfg_attr(#hosted, ignore)]));
    }
    let run = format_ident!("__unikernel_test_run");

    quote! {
        #(#host_attrs)*
        #f
        // Registered in a linker section that the runtime walks between
        // `__start_unikernel_tests` and `__stop_unikernel_tests`, so tests
        // are collected without nightly `custom_test_frameworks`. Host test
        // builds compile the record too (unplaced) so its types are checked.
        #[cfg(any(target_os = "none", test))]
        const _: () = {
            fn #run() -> #private::Exit {
                #body
            }
            #[cfg_attr(target_os = "none", used)]
            #[cfg_attr(target_os = "none", unsafe(link_section = "unikernel_tests"))]
            #[allow(dead_code)]
            static __UNIKERNEL_TEST: #private::TestCase = #private::TestCase {
                name: ::core::concat!(::core::module_path!(), "::", #name_str),
                run: #run,
                expect: #expect,
                ignore: #ignore,
            };
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(attr: TokenStream, item: TokenStream) -> Vec<String> {
        expand::error_messages(expand(attr, item))
    }

    #[test]
    fn plain_test_registers_a_passing_record() {
        let out = expand(
            quote!(),
            quote!(
                fn adds() {}
            ),
        )
        .to_string();
        assert!(
            out.contains(
                "cfg_attr (not (target_os = \"none\") , :: core :: prelude :: v1 :: test)"
            ),
            "{out}"
        );
        assert!(out.contains("Expect :: Pass"), "{out}");
        assert!(out.contains("ignore : false"), "{out}");
        assert!(
            out.contains("unsafe (link_section = \"unikernel_tests\")"),
            "{out}"
        );
        assert!(
            out.contains("adds () ; :: unikernel :: __private :: Exit :: Success"),
            "{out}"
        );
    }

    #[test]
    fn expectations_map_to_records_and_host_attributes() {
        let out = expand(
            quote!(should_panic = "boom"),
            quote!(
                fn f() {}
            ),
        )
        .to_string();
        assert!(
            out.contains("Expect :: Panic (:: core :: option :: Option :: Some (\"boom\"))"),
            "{out}"
        );
        assert!(out.contains("should_panic (expected = \"boom\")"), "{out}");

        let out = expand(
            quote!(should_fault = "stack_overflow", ignore),
            quote!(
                fn f() {}
            ),
        )
        .to_string();
        assert!(
            out.contains(
                "Expect :: Fault (:: unikernel :: __private :: FaultKind :: StackOverflow)"
            ),
            "{out}"
        );
        assert!(out.contains("ignore : true"), "{out}");
        // One host `ignore`, the one with the reason.
        assert_eq!(out.matches("ignore =").count(), 1, "{out}");
    }

    #[test]
    fn raw_names_are_registered_without_the_prefix() {
        let out = expand(
            quote!(),
            quote!(
                fn r#type() {}
            ),
        )
        .to_string();
        assert!(out.contains("\"::\" , \"type\""), "{out}");
    }

    #[test]
    fn conflicting_options_are_rejected() {
        let e = errors_of(
            quote!(should_panic),
            quote!(
                fn f() -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("`should_panic` tests must return `()`"),
            "{e:?}"
        );
        let e = errors_of(
            quote!(should_fault = "any", should_panic),
            quote!(
                fn f() {}
            ),
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("exclusive"), "{e:?}");
    }

    #[test]
    fn never_returning_tests_are_rejected() {
        let e = errors_of(
            quote!(),
            quote!(
                fn f() -> ! {
                    loop {}
                }
            ),
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("unsupported return type"), "{e:?}");
    }
}
