//! `#[unikernel::main]`: argument validation and expansion.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, ItemFn};

use crate::args::{self, Arg, Errors, Literal};
use crate::expand;
use crate::signature::{self, ReturnKind, Rules};
use crate::units::{self, KIB, Offset, PAGE_SIZE};

const RULES: Rules = Rules {
    macro_name: "unikernel::main",
    accepted: "`fn main()`, `fn main() -> Result<(), E>` or `fn main() -> !`",
    allow_visibility: false,
    allow_never: true,
};

const KEYS: &[&str] = &[
    "heap_size",
    "heap_limit",
    "stack_size",
    "log_level",
    "physical_memory_offset",
];

const SIZE_FORM: &str =
    "a size such as `\"64 MiB\"` (units B, KiB, MiB, GiB) or an integer number of bytes";
const LEVEL_FORM: &str =
    "one of `\"off\"`, `\"error\"`, `\"warn\"`, `\"info\"`, `\"debug\"`, `\"trace\"`";
const OFFSET_FORM: &str =
    "`\"dynamic\"` or a 4 KiB aligned canonical address such as `\"0xffff_8000_0000_0000\"`";

/// The smallest heap the runtime is configured with: below this even the
/// runtime's own allocations would not fit.
const MIN_HEAP: u64 = 64 * KIB;
/// The smallest boot stack: the runtime's early boot path needs this much.
const MIN_STACK: u64 = 16 * KIB;

/// The validated arguments.
#[derive(Default)]
struct Config {
    heap_size: Option<u64>,
    heap_limit: Option<u64>,
    stack_size: Option<u64>,
    log_level: Option<Ident>,
    physical_memory_offset: Option<Offset>,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let config = parse_config(attr, &mut errors);
    expand::function(
        item,
        &RULES,
        errors,
        |_, _| {},
        |f, kind| generate(&f, kind, &config),
    )
}

fn parse_config(attr: TokenStream, errors: &mut Errors) -> Config {
    let mut config = Config::default();
    let mut heap_limit_arg = None;
    for arg in args::parse("unikernel::main", attr, KEYS, errors) {
        match arg.key.to_string().as_str() {
            "heap_size" => {
                config.heap_size = errors.check(size(&arg, MIN_HEAP));
            }
            "heap_limit" => {
                config.heap_limit = errors.check(size(&arg, MIN_HEAP));
                heap_limit_arg = Some(arg.tokens.clone());
            }
            "stack_size" => config.stack_size = errors.check(size(&arg, MIN_STACK)),
            "log_level" => config.log_level = errors.check(log_level(&arg)),
            "physical_memory_offset" => {
                config.physical_memory_offset = errors.check(offset(&arg));
            }
            other => unreachable!("`{other}` passed key validation"),
        }
    }
    if let (Some(size), Some(limit), Some(limit_arg)) =
        (config.heap_size, config.heap_limit, heap_limit_arg)
        && limit < size
    {
        errors.push(syn::Error::new_spanned(
            limit_arg,
            format!(
                "`heap_limit` ({}) must be at least `heap_size` ({}): the heap starts at `heap_size` and grows up to `heap_limit`",
                units::format_size(limit),
                units::format_size(size),
            ),
        ));
    }
    config
}

/// A byte size: a size string or an integer literal, a multiple of 4 KiB and
/// at least `min`.
fn size(arg: &Arg, min: u64) -> syn::Result<u64> {
    let key = &arg.key;
    let example = if key == "stack_size" {
        "128 KiB"
    } else {
        "64 MiB"
    };
    let expr = arg.value(&format!("`{key} = \"{example}\"`"))?;
    let (bytes, span) = match args::literal(key, expr, SIZE_FORM)? {
        Literal::Str(s) => {
            let bytes = units::parse_size(&s.value()).map_err(|e| {
                syn::Error::new(
                    s.span(),
                    format!("invalid `{key}`: {e}; expected {SIZE_FORM}"),
                )
            })?;
            (bytes, s.span())
        }
        Literal::Int(i) => (args::int_u64(key, i)?, i.span()),
    };
    if bytes % PAGE_SIZE != 0 {
        return Err(syn::Error::new(
            span,
            format!("`{key}` must be a multiple of 4 KiB, got {bytes} bytes"),
        ));
    }
    if bytes < min {
        return Err(syn::Error::new(
            span,
            format!(
                "`{key}` must be at least {}, got {}",
                units::format_size(min),
                units::format_size(bytes)
            ),
        ));
    }
    Ok(bytes)
}

/// The `LevelFilter` variant for a level name.
fn log_level(arg: &Arg) -> syn::Result<Ident> {
    let key = &arg.key;
    let s = args::string(key, arg.value(&format!("`{key} = \"info\"`"))?, LEVEL_FORM)?;
    let variant = match s.value().to_ascii_lowercase().as_str() {
        "off" => "Off",
        "error" => "Error",
        "warn" => "Warn",
        "info" => "Info",
        "debug" => "Debug",
        "trace" => "Trace",
        _ => {
            return Err(syn::Error::new(
                s.span(),
                format!("invalid `{key}` {:?}: expected {LEVEL_FORM}", s.value()),
            ));
        }
    };
    Ok(Ident::new(variant, s.span()))
}

fn offset(arg: &Arg) -> syn::Result<Offset> {
    let key = &arg.key;
    let expr = arg.value(&format!(
        "`{key} = \"dynamic\"` or `{key} = \"0xffff_8000_0000_0000\"`"
    ))?;
    match args::literal(key, expr, OFFSET_FORM)? {
        Literal::Str(s) => units::parse_offset(&s.value())
            .map_err(|e| syn::Error::new(s.span(), format!("invalid `{key}`: {e}"))),
        Literal::Int(i) => {
            let value = args::int_u64(key, i)?;
            units::check_offset(value)
                .map(Offset::Fixed)
                .map_err(|e| syn::Error::new(i.span(), format!("invalid `{key}`: {e}")))
        }
    }
}

fn generate(f: &ItemFn, kind: ReturnKind, config: &Config) -> TokenStream {
    let name = &f.sig.ident;
    let private = quote!(::unikernel::__private);
    let body = signature::report_call(name, kind);
    let size = |v: Option<u64>| match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let heap_size = size(config.heap_size);
    let heap_limit = size(config.heap_limit);
    let stack_size = size(config.stack_size);
    let log_level = match &config.log_level {
        Some(level) => quote!(::core::option::Option::Some(#private::LevelFilter::#level)),
        None => quote!(::core::option::Option::None),
    };
    let offset = match config.physical_memory_offset {
        None => quote!(#private::PhysOffset::Default),
        Some(Offset::Dynamic) => quote!(#private::PhysOffset::Dynamic),
        Some(Offset::Fixed(v)) => quote!(#private::PhysOffset::Fixed(#v)),
    };
    let shim = format_ident!("__unikernel_main_shim");
    quote! {
        #f
        const _: () = {
            #[allow(dead_code)]
            fn #shim() -> #private::Exit {
                #body
            }
            #private::entry!(#shim, #private::RuntimeConfig {
                heap_size: #heap_size,
                heap_limit: #heap_limit,
                stack_size: #stack_size,
                log_level: #log_level,
                physical_memory_offset: #offset,
            });
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
    fn full_config_expands_to_typed_values() {
        let out = expand(
            quote!(
                heap_size = "64 MiB",
                heap_limit = 1073741824,
                stack_size = "128 KiB",
                log_level = "DEBUG",
                physical_memory_offset = "0xffff_8000_0000_0000"
            ),
            quote!(
                fn main() {}
            ),
        )
        .to_string();
        assert!(
            out.contains("heap_size : :: core :: option :: Option :: Some (67108864u64)"),
            "{out}"
        );
        assert!(
            out.contains("heap_limit : :: core :: option :: Option :: Some (1073741824u64)"),
            "{out}"
        );
        assert!(
            out.contains("stack_size : :: core :: option :: Option :: Some (131072u64)"),
            "{out}"
        );
        assert!(out.contains("LevelFilter :: Debug"), "{out}");
        assert!(
            out.contains("PhysOffset :: Fixed (18446603336221196288u64)"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn defaults_expand_to_none() {
        let out = expand(
            quote!(),
            quote!(
                fn main() -> ! {
                    loop {}
                }
            ),
        )
        .to_string();
        assert!(
            out.contains("heap_size : :: core :: option :: Option :: None"),
            "{out}"
        );
        assert!(out.contains("PhysOffset :: Default"), "{out}");
        // `-> !` is called directly, without a `report`.
        assert!(out.contains("{ main () }"), "{out}");
    }

    #[test]
    fn limit_below_size_is_rejected() {
        let errors = errors_of(
            quote!(heap_size = "1 MiB", heap_limit = "512 KiB"),
            quote!(
                fn main() {}
            ),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("(512 KiB) must be at least `heap_size` (1 MiB)"),
            "{errors:?}"
        );
    }

    #[test]
    fn every_error_is_reported_once() {
        let errors = errors_of(
            quote!(
                heap_size = "1000",
                stack_size = "4 KiB",
                log_level = "loud",
                colour = "red"
            ),
            quote!(
                pub async fn main(x: u32) -> u32 {
                    x
                }
            ),
        );
        assert_eq!(errors.len(), 8, "{errors:?}");
    }

    #[test]
    fn sizes_must_be_page_multiples_and_large_enough() {
        let e = errors_of(
            quote!(heap_size = 65537),
            quote!(
                fn main() {}
            ),
        );
        assert!(e[0].contains("multiple of 4 KiB, got 65537 bytes"), "{e:?}");
        let e = errors_of(
            quote!(stack_size = "8 KiB"),
            quote!(
                fn main() {}
            ),
        );
        assert!(e[0].contains("at least 16 KiB, got 8 KiB"), "{e:?}");
        assert!(
            errors_of(
                quote!(stack_size = "16 KiB"),
                quote!(
                    fn main() {}
                )
            )
            .is_empty()
        );
        assert!(
            errors_of(
                quote!(heap_size = "64 KiB"),
                quote!(
                    fn main() {}
                )
            )
            .is_empty()
        );
    }
}
