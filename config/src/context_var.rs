//! `$context` variables, resolved from their names once, when a template or a parameter
//! mapping is parsed: rendering one is a `match` on an enum, not a string comparison per known
//! name.

/// A `$context` variable. Names Portico does not know are kept ([`ContextVar::Other`]) and
/// render as nothing, as API Gateway renders an unknown variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextVar {
    /// `requestId`, `extendedRequestId`.
    RequestId,
    /// `apiId`.
    ApiId,
    /// `stage`.
    Stage,
    /// `deploymentId`.
    DeploymentId,
    /// `isCanaryRequest`.
    IsCanaryRequest,
    /// `resourcePath`, `resourceId`.
    ResourcePath,
    /// `httpMethod`.
    HttpMethod,
    /// `path`.
    Path,
    /// `protocol`.
    Protocol,
    /// `requestTime`.
    RequestTime,
    /// `requestTimeEpoch`.
    RequestTimeEpoch,
    /// `domainName`.
    DomainName,
    /// `domainPrefix`.
    DomainPrefix,
    /// `identity.sourceIp`.
    SourceIp,
    /// `customDomain.basePathMatched`.
    BasePathMatched,
    /// `tlsVersion`.
    TlsVersion,
    /// `cipherSuite`.
    CipherSuite,
    /// `identity.clientCert.clientCertPem`.
    ClientCertPem,
    /// `identity.clientCert.subjectDN`.
    ClientCertSubjectDn,
    /// `identity.clientCert.issuerDN`.
    ClientCertIssuerDn,
    /// `identity.clientCert.serialNumber`.
    ClientCertSerialNumber,
    /// `identity.clientCert.validity.notBefore`.
    ClientCertNotBefore,
    /// `identity.clientCert.validity.notAfter`.
    ClientCertNotAfter,
    /// `accountId`.
    AccountId,
    /// `identity.accessKey`.
    AccessKey,
    /// `identity.userArn`.
    UserArn,
    /// `identity.user`, `identity.caller`.
    User,
    /// `identity.accountId`.
    IdentityAccountId,
    /// `identity.userAgent`.
    UserAgent,
    /// `identity.apiKey`.
    ApiKey,
    /// `identity.apiKeyId`.
    ApiKeyId,
    /// `error.message`.
    ErrorMessage,
    /// `error.messageString`.
    ErrorMessageString,
    /// `error.responseType`.
    ErrorResponseType,
    /// `error.validationErrorString`.
    ValidationErrorString,
    /// `authorizer.principalId`.
    PrincipalId,
    /// `authorizer.claims.NAME`: a JWT authorizer's claim.
    AuthorizerClaim(String),
    /// `authorizer.NAME`: a key of a Lambda-style authorizer's context.
    AuthorizerContext(String),
    /// Any other name.
    Other(String),
}

impl ContextVar {
    /// The variable `name` (after `$context.`) refers to.
    pub fn parse(name: &str) -> Self {
        match name {
            "requestId" | "extendedRequestId" => Self::RequestId,
            "apiId" => Self::ApiId,
            "stage" => Self::Stage,
            "deploymentId" => Self::DeploymentId,
            "isCanaryRequest" => Self::IsCanaryRequest,
            "resourcePath" | "resourceId" => Self::ResourcePath,
            "httpMethod" => Self::HttpMethod,
            "path" => Self::Path,
            "protocol" => Self::Protocol,
            "requestTime" => Self::RequestTime,
            "requestTimeEpoch" => Self::RequestTimeEpoch,
            "domainName" => Self::DomainName,
            "domainPrefix" => Self::DomainPrefix,
            "identity.sourceIp" => Self::SourceIp,
            "customDomain.basePathMatched" => Self::BasePathMatched,
            "tlsVersion" => Self::TlsVersion,
            "cipherSuite" => Self::CipherSuite,
            "identity.clientCert.clientCertPem" => Self::ClientCertPem,
            "identity.clientCert.subjectDN" => Self::ClientCertSubjectDn,
            "identity.clientCert.issuerDN" => Self::ClientCertIssuerDn,
            "identity.clientCert.serialNumber" => Self::ClientCertSerialNumber,
            "identity.clientCert.validity.notBefore" => Self::ClientCertNotBefore,
            "identity.clientCert.validity.notAfter" => Self::ClientCertNotAfter,
            "accountId" => Self::AccountId,
            "identity.accessKey" => Self::AccessKey,
            "identity.userArn" => Self::UserArn,
            "identity.user" | "identity.caller" => Self::User,
            "identity.accountId" => Self::IdentityAccountId,
            "identity.userAgent" => Self::UserAgent,
            "identity.apiKey" => Self::ApiKey,
            "identity.apiKeyId" => Self::ApiKeyId,
            "error.message" => Self::ErrorMessage,
            "error.messageString" => Self::ErrorMessageString,
            "error.responseType" => Self::ErrorResponseType,
            "error.validationErrorString" => Self::ValidationErrorString,
            "authorizer.principalId" => Self::PrincipalId,
            other => match other.strip_prefix("authorizer.") {
                Some(key) => match key.strip_prefix("claims.") {
                    Some(claim) => Self::AuthorizerClaim(claim.to_owned()),
                    None => Self::AuthorizerContext(key.to_owned()),
                },
                None => Self::Other(other.to_owned()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_their_aliases() {
        assert_eq!(ContextVar::parse("requestId"), ContextVar::RequestId);
        assert_eq!(
            ContextVar::parse("extendedRequestId"),
            ContextVar::RequestId
        );
        assert_eq!(ContextVar::parse("identity.caller"), ContextVar::User);
        assert_eq!(
            ContextVar::parse("authorizer.claims.sub"),
            ContextVar::AuthorizerClaim("sub".into())
        );
        assert_eq!(
            ContextVar::parse("authorizer.tenant"),
            ContextVar::AuthorizerContext("tenant".into())
        );
        assert_eq!(
            ContextVar::parse("wafResponseCode"),
            ContextVar::Other("wafResponseCode".into())
        );
    }
}
