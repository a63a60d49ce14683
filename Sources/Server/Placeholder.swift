import GatewayAPI
