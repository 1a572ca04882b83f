# The mailbox databases on this server: where Outlook connects (RpcClientAccessServer) and which
# public folder database they use.
$databases = foreach ($database in Get-MailboxDatabase -Server $env:COMPUTERNAME) {
    @{ name = [string]$database.Name; server = [string]$database.Server;
       rpc_client_access_server = [string]$database.RpcClientAccessServer;
       public_folder_database = [string]$database.PublicFolderDatabase }
}
Write-ExopsAnswer 'mailbox-databases' @{ databases = @($databases) }
