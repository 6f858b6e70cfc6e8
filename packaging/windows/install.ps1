<#
.SYNOPSIS
Installs or upgrades mcpwarden-agent on Windows as a scheduled task that runs as SYSTEM at
startup, for every user of the machine.

.EXAMPLE
powershell -ExecutionPolicy Bypass -File .\install.ps1 -Url https://mcpwarden.example.com -Secret SECRET

The configuration, %ProgramData%\mcpwarden\agent.json, is kept across upgrades; -Url and
-Secret write it (an MDM or Intune can push the file instead). Run as Administrator.
#>
param(
    [string]$Url = "",
    [string]$Secret = ""
)
$ErrorActionPreference = "Stop"

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw "Run install.ps1 as Administrator."
}

$taskName = "mcpwarden-agent"
$installDir = Join-Path $env:ProgramFiles "mcpwarden"
$exe = Join-Path $installDir "mcpwarden-agent.exe"
$configDir = Join-Path $env:ProgramData "mcpwarden"
$config = Join-Path $configDir "agent.json"

if (Get-ScheduledTask -TaskName $taskName -ErrorAction SilentlyContinue) {
    Stop-ScheduledTask -TaskName $taskName -ErrorAction SilentlyContinue
    Get-Process mcpwarden-agent -ErrorAction SilentlyContinue | Stop-Process -Force
}

New-Item -ItemType Directory -Force -Path $installDir, $configDir | Out-Null
Copy-Item -Force (Join-Path $PSScriptRoot "mcpwarden-agent.exe") $exe

if ($Url -or $Secret) {
    @{ url = $Url; enrollment_secret = $Secret } | ConvertTo-Json -Compress | Set-Content -Encoding ASCII -Path $config
} elseif (-not (Test-Path $config)) {
    Copy-Item (Join-Path $PSScriptRoot "agent.json") $config
}
# The enrolment secret and the agent's key: SYSTEM and Administrators only.
icacls $configDir /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" | Out-Null
icacls $config /inheritance:r /grant:r "*S-1-5-18:F" "*S-1-5-32-544:F" | Out-Null

$action = New-ScheduledTaskAction -Execute $exe -Argument "run --all-users --config `"$config`""
$trigger = New-ScheduledTaskTrigger -AtStartup
$settings = New-ScheduledTaskSettingsSet -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
    -ExecutionTimeLimit ([TimeSpan]::Zero) -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
$task = New-ScheduledTaskPrincipal -UserId "SYSTEM" -LogonType ServiceAccount -RunLevel Highest
Register-ScheduledTask -Force -TaskName $taskName -Action $action -Trigger $trigger -Settings $settings -Principal $task `
    -Description "mcpwarden agent: reports the MCP servers configured on this machine" | Out-Null

$version = & $exe version
Write-Output "$version installed in $installDir as the scheduled task $taskName"
if ((Get-Content -Raw $config) -match '"url":\s*""') {
    Write-Output "Set url and enrollment_secret in $config, then: Start-ScheduledTask -TaskName $taskName"
} else {
    Start-ScheduledTask -TaskName $taskName
}
