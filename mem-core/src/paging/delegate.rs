//! [`delegate_mapper!`](crate::delegate_mapper): a `Mapper` impl for a
//! newtype around another mapper.

/// Implements [`Mapper`](crate::paging::Mapper) for a newtype by forwarding
/// every required method to one of its fields, itself a `Mapper` (usually a
/// [`GenericMapper`](crate::paging::GenericMapper)) with the same `Tlb`.
///
/// The architecture crates wrap the generic engine in their own types so
/// that those can carry architecture-specific constructors and accessors;
/// this keeps the mapping behaviour, and the `unsafe` contracts, those of
/// the field. The provided methods (`map_identity`, `map_offset`) keep
/// their default bodies, which call the forwarded `map_range`.
///
/// The syntax is `delegate_mapper!(Wrapper => field, Tlb = FlushType);`,
/// where `field` is a field name or a tuple index:
///
/// ```ignore
/// pub struct OffsetMapper {
///     inner: GenericMapper<X86Format>,
/// }
///
/// mem_core::delegate_mapper!(OffsetMapper => inner, Tlb = X86Format);
/// ```
#[macro_export]
macro_rules! delegate_mapper {
    ($wrapper:ty => $field:tt, Tlb = $tlb:ty $(,)?) => {
        impl $crate::paging::Mapper for $wrapper {
            type Tlb = $tlb;

            #[inline]
            unsafe fn map<S: $crate::PageSize, A: $crate::FrameAllocator + ?Sized>(
                &mut self,
                page: $crate::Page<S>,
                frame: $crate::PhysFrame<S>,
                flags: $crate::paging::PageFlags,
                alloc: &mut A,
            ) -> ::core::result::Result<$crate::paging::Flush<$tlb>, $crate::paging::MapError> {
                // SAFETY: the same contract, forwarded to the caller.
                unsafe { $crate::paging::Mapper::map(&mut self.$field, page, frame, flags, alloc) }
            }

            #[inline]
            unsafe fn map_range<A: $crate::FrameAllocator + ?Sized>(
                &mut self,
                pages: $crate::PageRange<$crate::Size4KiB>,
                first_frame: $crate::PhysFrame<$crate::Size4KiB>,
                flags: $crate::paging::PageFlags,
                sizes: $crate::paging::PageSizes,
                alloc: &mut A,
            ) -> ::core::result::Result<$crate::paging::Flush<$tlb>, $crate::paging::MapError> {
                // SAFETY: the same contract, forwarded to the caller.
                unsafe {
                    $crate::paging::Mapper::map_range(
                        &mut self.$field,
                        pages,
                        first_frame,
                        flags,
                        sizes,
                        alloc,
                    )
                }
            }

            #[inline]
            unsafe fn unmap<S: $crate::PageSize, A: $crate::FrameAllocator + ?Sized>(
                &mut self,
                page: $crate::Page<S>,
                alloc: &mut A,
            ) -> ::core::result::Result<
                ($crate::PhysFrame<S>, $crate::paging::Flush<$tlb>),
                $crate::paging::UnmapError,
            > {
                // SAFETY: the same contract, forwarded to the caller.
                unsafe { $crate::paging::Mapper::unmap(&mut self.$field, page, alloc) }
            }

            #[inline]
            unsafe fn unmap_range<A: $crate::FrameAllocator + ?Sized>(
                &mut self,
                pages: $crate::PageRange<$crate::Size4KiB>,
                alloc: &mut A,
            ) -> ::core::result::Result<$crate::paging::Flush<$tlb>, $crate::paging::UnmapError>
            {
                // SAFETY: the same contract, forwarded to the caller.
                unsafe { $crate::paging::Mapper::unmap_range(&mut self.$field, pages, alloc) }
            }

            #[inline]
            unsafe fn protect<S: $crate::PageSize>(
                &mut self,
                page: $crate::Page<S>,
                flags: $crate::paging::PageFlags,
            ) -> ::core::result::Result<$crate::paging::Flush<$tlb>, $crate::paging::ProtectError>
            {
                // SAFETY: the same contract, forwarded to the caller.
                unsafe { $crate::paging::Mapper::protect(&mut self.$field, page, flags) }
            }

            #[inline]
            fn split<A: $crate::FrameAllocator + ?Sized>(
                &mut self,
                addr: $crate::VirtAddr,
                alloc: &mut A,
            ) -> ::core::result::Result<$crate::paging::Flush<$tlb>, $crate::paging::SplitError>
            {
                $crate::paging::Mapper::split(&mut self.$field, addr, alloc)
            }

            #[inline]
            fn translate(
                &self,
                addr: $crate::VirtAddr,
            ) -> ::core::option::Option<$crate::paging::Translation> {
                $crate::paging::Mapper::translate(&self.$field, addr)
            }
        }
    };
}
