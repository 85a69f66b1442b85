//! The official CTP libraries (thostmduserapi_se / thosttraderapi_se), loaded at run
//! time with dlopen and driven through their C++ vtables.

pub mod convert;
pub mod cstr;
pub mod ffi;
pub mod spi;
pub mod spi_glue;
pub mod vtables;
