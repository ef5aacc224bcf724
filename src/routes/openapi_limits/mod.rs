//! The checks' limits, written into the OpenAPI document: every minimum, maximum, length,
//! pattern and item count here is built from the constant or grammar its check uses, so the
//! document and the check cannot drift apart.
//!
//! utoipa's `#[schema(maximum = ...)]` takes only literals, so the limits are not attributes on
//! the wire types but this one pass over the built document, beside the checks' constants.

mod table;

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ArrayItems, ObjectBuilder, Schema, Type,
};
use utoipa::openapi::{OpenApi, Ref, RefOr};
use utoipa::Number;

/// What a value may be.
#[derive(Debug, Clone)]
enum Limit {
    /// An integer from the first bound to the second, each open when absent.
    Integer(Option<i64>, Option<i64>),
    /// A number above `min` (or from it, unless `exclusive`) to `max`.
    Number {
        /// The lower bound.
        min: f64,
        /// Whether `min` itself is refused.
        exclusive: bool,
        /// The upper bound, included.
        max: f64,
    },
    /// A string of `min` to `max` characters matching `pattern`.
    Text {
        /// Fewest characters.
        min: usize,
        /// Most characters (the checks count bytes: the same for the ASCII most fields take).
        max: usize,
        /// The grammar, from [`patterns`].
        pattern: Option<String>,
    },
    /// An array of `min` to `max` items, each as `each` says (when its schema is inline).
    Items {
        /// Fewest items.
        min: usize,
        /// Most items, when there is a most.
        max: Option<usize>,
        /// What an item may be.
        each: Option<Box<Limit>>,
    },
    /// An object used as a map: at most `max` entries, names and values as given.
    Map {
        /// Most entries.
        max: usize,
        /// What a name may be.
        names: Option<Box<Limit>>,
        /// What a value may be.
        values: Option<Box<Limit>>,
    },
}

/// Where a limit applies.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A property of a component schema: `(schema, property)`.
    Property(&'static str, &'static str),
    /// One of the `oneOf` alternatives of a component schema: `(schema, index)`.
    Variant(&'static str, usize),
    /// A query or path parameter of a route: `(path, parameter)`.
    Parameter(&'static str, &'static str),
}

/// Writes every limit into `doc`.
///
/// # Panics
/// When a limit names a schema, property or parameter the document lacks, or one of another
/// shape: a renamed field must take its limit along (every test that starts a server fails
/// here until it does).
pub fn constrain(doc: &mut OpenApi) {
    for (target, limit) in table::limits() {
        let schema = find(doc, target)
            .unwrap_or_else(|| panic!("the OpenAPI limits name {target:?}, which is missing"));
        if let Err(e) = apply(schema, &limit) {
            panic!("the OpenAPI limit of {target:?}: {e}");
        }
    }
    single_result_names_its_worker(doc);
    oversized_requests_are_refused(doc);
}

/// Requests hyper refuses before any route sees them, answered with no body: a URL longer
/// than 64 KiB (414, so every operation that takes query parameters says so), and a request
/// head (URL and headers) larger than hyper's read buffer, about 400 KiB (431, any operation).
fn oversized_requests_are_refused(doc: &mut OpenApi) {
    let answer = |text: &str| {
        RefOr::T(
            utoipa::openapi::ResponseBuilder::new()
                .description(text)
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        let operations: [&mut Option<Operation>; 2] = [&mut item.get, &mut item.post];
        for operation in operations.into_iter().flatten() {
            let takes_query = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query);
            let responses = &mut operation.responses.responses;
            if takes_query {
                responses.insert(
                    "414".to_string(),
                    answer("the URL is longer than the server reads (64 KiB): refused before any check, with no body"),
                );
            }
            responses.insert(
                "431".to_string(),
                answer("the request's URL and headers are larger than the server reads (about 400 KiB): refused before any check, with no body"),
            );
        }
    }
}

/// `POST /api/jobs/submit-result` takes a [`gantry_api::SubmitResultRequest`] whose `workerId`
/// is required (a batch's results may leave it out): its body is that schema with the field
/// required.
fn single_result_names_its_worker(doc: &mut OpenApi) {
    let path = "/api/jobs/submit-result";
    let content = doc
        .paths
        .paths
        .get_mut(path)
        .and_then(|item| item.post.as_mut())
        .and_then(|post| post.request_body.as_mut())
        .and_then(|body| body.content.get_mut("application/json"))
        .unwrap_or_else(|| panic!("the OpenAPI document has no JSON body for {path}"));
    let named = ObjectBuilder::new()
        .required("workerId")
        .property(
            "workerId",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1)),
        )
        .build();
    let body = AllOfBuilder::new()
        .item(Ref::from_schema_name("SubmitResultRequest"))
        .item(named)
        .build();
    content.schema = Some(RefOr::T(Schema::AllOf(body)));
}

/// The schema a target names, when the document has it inline.
fn find(doc: &mut OpenApi, target: Target) -> Option<&mut Schema> {
    match target {
        Target::Property(schema, property) => {
            let components = doc.components.as_mut()?;
            match inline(components.schemas.get_mut(schema)?)? {
                Schema::Object(object) => inline(object.properties.get_mut(property)?),
                _ => None,
            }
        }
        Target::Variant(schema, index) => {
            let components = doc.components.as_mut()?;
            match inline(components.schemas.get_mut(schema)?)? {
                Schema::OneOf(one_of) => inline(one_of.items.get_mut(index)?),
                _ => None,
            }
        }
        Target::Parameter(path, name) => {
            let item = doc.paths.paths.get_mut(path)?;
            let operations: [&mut Option<Operation>; 2] = [&mut item.get, &mut item.post];
            let parameter = operations
                .into_iter()
                .filter_map(|o| o.as_mut()?.parameters.as_mut())
                .flatten()
                .find(|p| p.name == name)?;
            inline(parameter.schema.as_mut()?)
        }
    }
}

/// The schema itself, when it is not a reference.
fn inline(schema: &mut RefOr<Schema>) -> Option<&mut Schema> {
    match schema {
        RefOr::T(schema) => Some(schema),
        RefOr::Ref(_) => None,
    }
}

/// Writes `limit` into `schema`, or says why it does not fit.
fn apply(schema: &mut Schema, limit: &Limit) -> Result<(), String> {
    let int = |n: i64| Number::Int(n as isize);
    match (schema, limit) {
        (Schema::Object(o), Limit::Integer(min, max)) => {
            o.minimum = min.map(int);
            o.maximum = max.map(int);
        }
        (
            Schema::Object(o),
            Limit::Number {
                min,
                exclusive,
                max,
            },
        ) => {
            if *exclusive {
                o.exclusive_minimum = Some(Number::Float(*min));
            } else {
                o.minimum = Some(Number::Float(*min));
            }
            o.maximum = Some(Number::Float(*max));
        }
        (Schema::Object(o), Limit::Text { min, max, pattern }) => {
            o.min_length = (*min > 0).then_some(*min);
            o.max_length = Some(*max);
            o.pattern.clone_from(pattern);
        }
        (Schema::Array(a), Limit::Items { min, max, each }) => {
            a.min_items = (*min > 0).then_some(*min);
            a.max_items = *max;
            if let Some(each) = each {
                match &mut a.items {
                    ArrayItems::RefOrSchema(item) => match item.as_mut() {
                        RefOr::T(item) => apply(item, each)?,
                        RefOr::Ref(_) => return Err("the items are a reference".into()),
                    },
                    ArrayItems::False => return Err("the array takes no items".into()),
                }
            }
        }
        (Schema::Object(o), Limit::Map { max, names, values }) => {
            o.max_properties = Some(*max);
            if let Some(names) = names {
                let mut name =
                    Schema::Object(ObjectBuilder::new().schema_type(Type::String).build());
                apply(&mut name, names)?;
                o.property_names = Some(Box::new(name));
            }
            if let Some(values) = values {
                match o.additional_properties.as_deref_mut() {
                    Some(AdditionalProperties::RefOr(RefOr::T(value))) => apply(value, values)?,
                    _ => return Err("the map's values are not an inline schema".into()),
                }
            }
        }
        (_, limit) => return Err(format!("this schema cannot take {limit:?}")),
    }
    Ok(())
}
