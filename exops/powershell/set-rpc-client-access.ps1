# Point a mailbox database's Outlook clients at a name (exops fix rpc-client-access).
$database = [string]$ExopsParameters['database']
Set-MailboxDatabase -Identity $database -RpcClientAccessServer ([string]$ExopsParameters['fqdn'])
$after = Get-MailboxDatabase -Identity $database
Write-ExopsAnswer 'set-rpc-client-access' @{ name = [string]$after.Name; rpc_client_access_server = [string]$after.RpcClientAccessServer }
