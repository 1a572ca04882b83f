# The Exchange cmdlets from this server's Microsoft.Exchange endpoint (Microsoft's supported way;
# from inside a WinRM shell it needs CredSSP or Kerberos delegation for the second hop).
$ExopsSession = 'Microsoft.Exchange'
$uri = 'http://' + [Net.Dns]::GetHostEntry([Net.Dns]::GetHostName()).HostName + '/PowerShell/'
Import-PSSession (New-PSSession -ConfigurationName Microsoft.Exchange -ConnectionUri $uri -Authentication Kerberos) -DisableNameChecking | Out-Null
