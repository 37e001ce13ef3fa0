//! Figures and the HTML report.

pub mod figures;
pub mod html;
pub mod landscape;
pub mod reproduce;
pub mod sharpness;
