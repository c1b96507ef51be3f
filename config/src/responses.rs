//! Gateway responses: the answers the gateway gives on its own behalf (§10 of the AWS
//! reference), their defaults, and per-API customisation from
//! `x-amazon-apigateway-gateway-responses`.

use std::collections::BTreeMap;

use crate::mapping::ParamSource;
use crate::template::Template;

macro_rules! response_types {
    ($( $variant:ident = $name:literal, $status:expr, $fallback:ident, $etype:expr, $msg:expr; )*) => {
        /// Every gateway response type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum ResponseType { $( $variant, )* }

        impl ResponseType {
            /// All types, in declaration order.
            pub const ALL: &'static [ResponseType] = &[$( ResponseType::$variant, )*];

            /// The AWS name, e.g. `MISSING_AUTHENTICATION_TOKEN`.
            pub fn name(self) -> &'static str {
                match self { $( ResponseType::$variant => $name, )* }
            }

            /// Parses an AWS name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $( $name => Some(ResponseType::$variant), )* _ => None }
            }

            /// The default status code; `None` for `DEFAULT_4XX`/`DEFAULT_5XX`.
            pub fn default_status(self) -> Option<u16> {
                match self { $( ResponseType::$variant => $status, )* }
            }

            /// The `DEFAULT_*` type whose customisation applies when this one has none.
            pub fn fallback(self) -> Option<ResponseType> {
                match self { $( ResponseType::$variant => response_types!(@fb $fallback), )* }
            }

            /// The `x-amzn-ErrorType` header value, if AWS sends one.
            pub fn error_type(self) -> Option<&'static str> {
                match self { $( ResponseType::$variant => $etype, )* }
            }

            /// The default `$context.error.message`.
            pub fn default_message(self) -> &'static str {
                match self { $( ResponseType::$variant => $msg, )* }
            }
        }
    };
    (@fb none) => { None };
    (@fb d4) => { Some(ResponseType::Default4xx) };
    (@fb d5) => { Some(ResponseType::Default5xx) };
}

response_types! {
    AccessDenied = "ACCESS_DENIED", Some(403), d4, Some("AccessDeniedException"), "User is not authorized to access this resource with an explicit deny";
    ApiConfigurationError = "API_CONFIGURATION_ERROR", Some(500), d5, Some("InternalServerErrorException"), "Internal server error";
    AuthorizerConfigurationError = "AUTHORIZER_CONFIGURATION_ERROR", Some(500), d5, Some("AuthorizerConfigurationException"), "";
    AuthorizerFailure = "AUTHORIZER_FAILURE", Some(500), d5, Some("AuthorizerFailureException"), "";
    BadRequestParameters = "BAD_REQUEST_PARAMETERS", Some(400), d4, Some("BadRequestException"), "Bad request";
    BadRequestBody = "BAD_REQUEST_BODY", Some(400), d4, Some("BadRequestException"), "Invalid request body";
    Default4xx = "DEFAULT_4XX", None, none, None, "";
    Default5xx = "DEFAULT_5XX", None, none, None, "";
    ExpiredToken = "EXPIRED_TOKEN", Some(403), d4, Some("ExpiredTokenException"), "The security token included in the request is expired";
    IntegrationFailure = "INTEGRATION_FAILURE", Some(504), d5, Some("InternalServerErrorException"), "Network error communicating with endpoint";
    IntegrationTimeout = "INTEGRATION_TIMEOUT", Some(504), d5, Some("InternalServerErrorException"), "Endpoint request timed out";
    InvalidApiKey = "INVALID_API_KEY", Some(403), d4, Some("ForbiddenException"), "Forbidden";
    InvalidSignature = "INVALID_SIGNATURE", Some(403), d4, Some("InvalidSignatureException"), "The request signature we calculated does not match the signature you provided";
    MissingAuthenticationToken = "MISSING_AUTHENTICATION_TOKEN", Some(403), d4, Some("MissingAuthenticationTokenException"), "Missing Authentication Token";
    QuotaExceeded = "QUOTA_EXCEEDED", Some(429), d4, Some("LimitExceededException"), "Limit Exceeded";
    RequestTooLarge = "REQUEST_TOO_LARGE", Some(413), d4, Some("RequestEntityTooLargeException"), "Request Too Long";
    ResourceNotFound = "RESOURCE_NOT_FOUND", Some(404), d4, Some("ResourceNotFoundException"), "Not Found";
    Throttled = "THROTTLED", Some(429), d4, Some("TooManyRequestsException"), "Too Many Requests";
    Unauthorized = "UNAUTHORIZED", Some(401), d4, Some("UnauthorizedException"), "Unauthorized";
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", Some(415), d4, Some("UnsupportedMediaTypeException"), "Unsupported Media Type";
    WafFiltered = "WAF_FILTERED", Some(403), d4, Some("WAFFilteredException"), "Forbidden";
}

impl ResponseType {
    /// AWS does not allow `REQUEST_TOO_LARGE` to be customised.
    pub fn customisable(self) -> bool {
        self != ResponseType::RequestTooLarge
    }
}

/// The default body template of every type: `{"message":$context.error.messageString}`.
pub const DEFAULT_TEMPLATE: &str = "{\"message\":$context.error.messageString}";

/// One customised gateway response.
#[derive(Debug, Clone, Default)]
pub struct GatewayResponse {
    /// Status override.
    pub status: Option<u16>,
    /// `gatewayresponse.header.NAME` mappings.
    pub headers: Vec<(String, ParamSource)>,
    /// Body templates by content type.
    pub templates: BTreeMap<String, Template>,
}

/// An API's gateway-response customisations.
#[derive(Debug, Clone, Default)]
pub struct GatewayResponses {
    /// Customisations by type, including `DEFAULT_4XX`/`DEFAULT_5XX`.
    pub custom: BTreeMap<ResponseType, GatewayResponse>,
}

impl GatewayResponses {
    /// The customisation that applies to `ty`: its own, else its `DEFAULT_*` fallback. Types
    /// that cannot be customised ignore `DEFAULT_*` too.
    pub fn effective(&self, ty: ResponseType) -> Option<&GatewayResponse> {
        if !ty.customisable() {
            return None;
        }
        self.custom
            .get(&ty)
            .or_else(|| ty.fallback().and_then(|f| self.custom.get(&f)))
    }
}
