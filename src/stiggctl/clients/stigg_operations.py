"""Every GraphQL document the Python side sends to Stigg, in one place.

Each must validate against Stigg's real schema (tests/test_clients_contracts.py checks all of
`OPERATIONS`). Selections ask only for what the models in `stigg.py` read.
"""

from __future__ import annotations

# A customer's subscriptions and a provisioning's subscription both parse as `Subscription`.
_SUBSCRIPTION_FIELDS = """
fragment SubscriptionFields on CustomerSubscription {
  status
  plan {
    refId
    displayName
  }
}
"""

_CUSTOMER_FIELDS = (
    """
fragment CustomerFields on Customer {
  customerId
  name
  email
  environmentId
  createdAt
  subscriptions {
    ...SubscriptionFields
  }
}
"""
    + _SUBSCRIPTION_FIELDS
)

_ENTITLEMENT_FIELDS = """
fragment EntitlementFields on Entitlement {
  isGranted
  accessDeniedReason
  hasUnlimitedUsage
  hasSoftLimit
  usageLimit
  currentUsage
  requestedUsage
  resetPeriod
  usagePeriodAnchor
  usagePeriodStart
  usagePeriodEnd
  feature {
    refId
    displayName
    featureType
    meterType
    featureUnits
    featureUnitsPlural
  }
}
"""

_FEATURE_FIELDS = """
fragment FeatureFields on Feature {
  id
  refId
  displayName
  description
  featureType
  meterType
  featureUnits
  featureUnitsPlural
  featureStatus
  environmentId
}
"""

PROVISION_CUSTOMER = (
    """
mutation ProvisionCustomer($input: ProvisionCustomerInput!) {
  provisionCustomer(input: $input) {
    subscriptionDecisionStrategy
    customer {
      ...CustomerFields
    }
    subscription {
      ...SubscriptionFields
    }
  }
}
"""
    + _CUSTOMER_FIELDS
)

GET_CUSTOMER_BY_REF_ID = (
    """
query GetCustomerByRefId($input: GetCustomerByRefIdInput!) {
  getCustomerByRefId(input: $input) {
    ...CustomerFields
  }
}
"""
    + _CUSTOMER_FIELDS
)

CUSTOMERS = (
    """
query Customers($paging: CursorPaging, $filter: CustomerFilter) {
  customers(paging: $paging, filter: $filter) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        ...CustomerFields
      }
    }
  }
}
"""
    + _CUSTOMER_FIELDS
)

ENTITLEMENT = (
    """
query Entitlement($query: FetchEntitlementQuery!) {
  entitlement(query: $query) {
    ...EntitlementFields
  }
}
"""
    + _ENTITLEMENT_FIELDS
)

CACHED_ENTITLEMENTS = (
    """
query CachedEntitlements($query: FetchEntitlementsQuery!) {
  cachedEntitlements(query: $query) {
    ...EntitlementFields
  }
}
"""
    + _ENTITLEMENT_FIELDS
)

REPORT_EVENT = """
mutation ReportEvent($events: UsageEventsReportInput!) {
  reportEvent(events: $events)
}
"""

REPORT_USAGE = """
mutation ReportUsage($input: ReportUsageInput!) {
  reportUsage(input: $input) {
    customerId
    featureId
    value
    currentUsage
    usagePeriodStart
    usagePeriodEnd
    timestamp
  }
}
"""

CREATE_FEATURE = (
    """
mutation CreateFeature($input: FeatureInput!) {
  createFeature(input: $input) {
    ...FeatureFields
  }
}
"""
    + _FEATURE_FIELDS
)

FEATURES = (
    """
query Features($filter: FeatureFilter, $paging: CursorPaging) {
  features(filter: $filter, paging: $paging) {
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        ...FeatureFields
      }
    }
  }
}
"""
    + _FEATURE_FIELDS
)

PRODUCTS = """
query Products($paging: CursorPaging) {
  products(paging: $paging) {
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        id
        refId
        displayName
        description
        status
        environmentId
      }
    }
  }
}
"""

PLANS = """
query Plans($filter: PlanFilter, $paging: CursorPaging) {
  plans(filter: $filter, paging: $paging) {
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        id
        refId
        displayName
        description
        status
        isLatest
        versionNumber
        environmentId
        product {
          refId
          displayName
        }
        packageEntitlements {
          ... on PackageFeatureEntitlement {
            usageLimit
            hasUnlimitedUsage
            hasSoftLimit
            resetPeriod
            feature {
              refId
              displayName
              featureType
              meterType
            }
          }
        }
      }
    }
  }
}
"""

# The environment of the API key, read from whichever object exists (a feature needs it).
ENVIRONMENT_ID = """
query EnvironmentId {
  products(paging: {first: 1}) {
    edges {
      node {
        environmentId
      }
    }
  }
  plans(paging: {first: 1}) {
    edges {
      node {
        environmentId
      }
    }
  }
  features(paging: {first: 1}) {
    edges {
      node {
        environmentId
      }
    }
  }
  customers(paging: {first: 1}) {
    edges {
      node {
        environmentId
      }
    }
  }
}
"""

USAGE_HISTORY = """
query UsageHistory($input: UsageHistoryV2Input!) {
  usageHistoryV2(input: $input) {
    series {
      tags {
        key
        value
      }
      points {
        timestamp
        value
        isResetPoint
      }
    }
    markers {
      timestamp
      type
    }
  }
}
"""

OPERATIONS: dict[str, str] = {
    "ProvisionCustomer": PROVISION_CUSTOMER,
    "GetCustomerByRefId": GET_CUSTOMER_BY_REF_ID,
    "Customers": CUSTOMERS,
    "Entitlement": ENTITLEMENT,
    "CachedEntitlements": CACHED_ENTITLEMENTS,
    "ReportEvent": REPORT_EVENT,
    "ReportUsage": REPORT_USAGE,
    "CreateFeature": CREATE_FEATURE,
    "Features": FEATURES,
    "Products": PRODUCTS,
    "Plans": PLANS,
    "EnvironmentId": ENVIRONMENT_ID,
    "UsageHistory": USAGE_HISTORY,
}
