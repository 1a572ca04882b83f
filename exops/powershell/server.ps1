# The Exchange servers of the organisation as this server sees them: version, roles, site.
$servers = foreach ($server in Get-ExchangeServer) {
    @{ name = [string]$server.Name; fqdn = [string]$server.Fqdn; version = [string]$server.AdminDisplayVersion;
       roles = [string]$server.ServerRole; site = [string]$server.Site }
}
Write-ExopsAnswer 'server' @{ servers = @($servers) }
